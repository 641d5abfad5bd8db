import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { render } from '../http/views.ts';

/**
 * oidc-provider's error page, rendered from views/ so every value is escaped. Only the protocol
 * error code and its public description are shown, never an internal message.
 */
export async function renderProviderError(
  ctx: KoaContextWithOIDC,
  out: ErrorOut,
  _error: Error,
): Promise<void> {
  ctx.type = 'html';
  ctx.body = render('error', {
    title: 'Request refused',
    code: String(out.error ?? 'server_error'),
    message: String(out.error_description ?? 'The request could not be completed.'),
  });
}
