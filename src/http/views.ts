import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

const VIEWS = fileURLToPath(new URL('../../views', import.meta.url));

// Eta escapes every `<%= %>` by default; raw output (`<%~ %>`) is used only for the layout's body,
// which is itself a rendered template.
const eta = new Eta({ views: VIEWS, autoEscape: true, cache: true, useWith: false });

/** Renders `views/<name>.eta` with `data` inside the shared layout. */
export function render(name: string, data: Record<string, unknown>): string {
  return eta.render(name, data);
}
