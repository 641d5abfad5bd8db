import { AppError } from '../errors.ts';

/** Codes of the elevation rules: callers branch on them (`switch (err.code)`), checked by the compiler. */
export type ElevationErrorCode =
  | 'ERR_INELIGIBLE'
  | 'ERR_TICKET_NOT_FOUND'
  | 'ERR_TICKET_CLOSED'
  | 'ERR_SELF_APPROVAL'
  | 'ERR_NOT_APPROVER'
  | 'ERR_ALREADY_DECIDED'
  | 'ERR_PASSKEY_REQUIRED';

/** A request or decision an elevation rule refuses. */
export class ElevationError<
  C extends ElevationErrorCode = ElevationErrorCode,
> extends AppError<C> {}

/** The principal lacks the role an elevated scope requires. */
export class IneligibleError extends ElevationError<'ERR_INELIGIBLE'> {
  readonly scope: string;
  readonly requiredRole: string;

  constructor(scope: string, requiredRole: string) {
    super('ERR_INELIGIBLE', `scope ${scope} requires role ${requiredRole}`, {
      scope,
      requiredRole,
    });
    this.scope = scope;
    this.requiredRole = requiredRole;
  }
}

export const ticketNotFound = () => new ElevationError('ERR_TICKET_NOT_FOUND', 'ticket not found');
export const ticketClosed = (status: string) =>
  new ElevationError('ERR_TICKET_CLOSED', `ticket is already ${status}`, { status });
export const selfApproval = () =>
  new ElevationError('ERR_SELF_APPROVAL', 'you cannot decide on your own request');
export const notAnApprover = () =>
  new ElevationError('ERR_NOT_APPROVER', 'you are not an approver for this ticket');
export const alreadyDecided = () =>
  new ElevationError('ERR_ALREADY_DECIDED', 'you have already decided on this ticket');
export const passkeyRequiredError = () =>
  new ElevationError(
    'ERR_PASSKEY_REQUIRED',
    'approving this request needs a fresh passkey check made for this request and this decision',
  );
