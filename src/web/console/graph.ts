/** A role as the graph needs it. */
export interface GraphRole {
  name: string;
  inherits: readonly string[];
}

/** The inheritance graph laid out for an SVG picture: boxes and arrows, in pixels. */
export interface GraphLayout {
  width: number;
  height: number;
  nodes: Array<{ name: string; x: number; y: number; w: number; h: number }>;
  /** From a role (x1, y1) to a role it inherits (x2, y2). */
  edges: Array<{ from: string; to: string; x1: number; y1: number; x2: number; y2: number }>;
}

const BOX_H = 28;
const ROW_GAP = 56;
const COL_GAP = 24;
const CHAR_W = 7.5;
const PAD = 12;

/**
 * Lays the role inheritance graph out in rows: roles that inherit nothing at the top, each other
 * role one row below the deepest role it inherits, so every arrow points up to what is inherited.
 * Pure (plain data in, coordinates out); a cycle, which the role service never stores, would only
 * stop the depth from growing.
 */
export function layoutRoles(roles: readonly GraphRole[]): GraphLayout {
  const byName = new Map(roles.map((r) => [r.name, r]));
  const depth = new Map<string, number>();
  const depthOf = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0;
    seen.add(name);
    const parents = (byName.get(name)?.inherits ?? []).filter((p) => byName.has(p));
    const d = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(p, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  for (const r of roles) depthOf(r.name, new Set());
  const rows: string[][] = [];
  for (const r of [...roles].sort((a, b) => a.name.localeCompare(b.name)))
    (rows[depth.get(r.name)!] ??= []).push(r.name);
  const widthOf = (name: string) => Math.ceil(name.length * CHAR_W) + 2 * PAD;
  const rowWidth = (row: string[]) =>
    row.reduce((sum, n) => sum + widthOf(n), 0) + COL_GAP * (row.length - 1);
  const width = Math.max(200, ...rows.map((row) => rowWidth(row ?? []))) + 2 * PAD;
  const nodes: GraphLayout['nodes'] = [];
  rows.forEach((row = [], i) => {
    let x = (width - rowWidth(row)) / 2;
    for (const name of row) {
      nodes.push({ name, x, y: PAD + i * (BOX_H + ROW_GAP), w: widthOf(name), h: BOX_H });
      x += widthOf(name) + COL_GAP;
    }
  });
  const at = new Map(nodes.map((n) => [n.name, n]));
  const edges: GraphLayout['edges'] = [];
  for (const r of roles) {
    const from = at.get(r.name)!;
    for (const parent of r.inherits) {
      const to = at.get(parent);
      if (!to) continue;
      edges.push({
        from: r.name,
        to: parent,
        x1: from.x + from.w / 2,
        y1: from.y,
        x2: to.x + to.w / 2,
        y2: to.y + to.h,
      });
    }
  }
  return { width, height: PAD * 2 + rows.length * (BOX_H + ROW_GAP) - ROW_GAP, nodes, edges };
}
