// Public face of the mail module: queue in a transaction, deliver from a worker (ARCHITECTURE.md §6).
export { enqueueMail, outboxDepth, type MailToQueue } from './outbox.ts';
export {
  createMailer,
  MailDeliveryError,
  type Mailer,
  type MailerConfig,
  type OutgoingMail,
} from './mailer.ts';
export { startOutboxWorker, type OutboxWorker, type OutboxWorkerOptions } from './worker.ts';
