/**
 * Domain errors with a stable `code`. Services throw them; each edge (HTTP, CLI) maps them once.
 * `message` is safe to show to the caller; anything internal goes in `cause`.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly detail?: Record<string, unknown>;

  constructor(
    code: string,
    status: number,
    message: string,
    detail?: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.detail = detail;
  }
}

export const notFound = (what: string, detail?: Record<string, unknown>) =>
  new AppError('ERR_NOT_FOUND', 404, `${what} not found`, detail);
export const conflict = (message: string, detail?: Record<string, unknown>) =>
  new AppError('ERR_CONFLICT', 409, message, detail);
export const invalid = (message: string, detail?: Record<string, unknown>) =>
  new AppError('ERR_INVALID', 400, message, detail);
