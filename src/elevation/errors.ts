import { AppError } from '../errors.ts';

/** The principal lacks the role an elevated scope requires. */
export class IneligibleError extends AppError {
  readonly scope: string;
  readonly requiredRole: string;

  constructor(scope: string, requiredRole: string) {
    super('ERR_INELIGIBLE', 403, `scope ${scope} requires role ${requiredRole}`, {
      scope,
      requiredRole,
    });
    this.scope = scope;
    this.requiredRole = requiredRole;
  }
}

export const ticketNotFound = () => new AppError('ERR_TICKET_NOT_FOUND', 404, 'ticket not found');
export const ticketClosed = (status: string) =>
  new AppError('ERR_TICKET_CLOSED', 409, `ticket is already ${status}`, { status });
export const selfApproval = () =>
  new AppError('ERR_SELF_APPROVAL', 403, 'you cannot decide on your own request');
export const notAnApprover = () =>
  new AppError('ERR_NOT_APPROVER', 403, 'you are not an approver for this ticket');
export const alreadyDecided = () =>
  new AppError('ERR_ALREADY_DECIDED', 409, 'you have already decided on this ticket');
