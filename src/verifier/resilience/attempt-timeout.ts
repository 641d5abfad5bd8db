import { TaskCancelledError } from 'cockatiel';

/**
 * Runs `fn` with a signal that aborts after `ms` or when `parent` aborts, whichever comes first;
 * either way the attempt is abandoned at once (it rejects with cockatiel's `TaskCancelledError`,
 * as its aggressive timeout policy does) and `fn` is told through the signal so it can stop work.
 * One controller, one timer and at most one listener per attempt; nothing is aborted when `fn`
 * settles first (an abort builds a DOMException with a stack trace, the costliest part of a call).
 */
export function attemptWithTimeout<R>(
  fn: (signal: AbortSignal) => R | Promise<R>,
  parent: AbortSignal,
  ms: number,
): Promise<R> {
  if (parent.aborted) return Promise.reject(new TaskCancelledError('Operation cancelled'));
  const controller = new AbortController();
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    const cancel = (message: string) => {
      if (settled) return;
      settled = true;
      parent.removeEventListener('abort', onParent);
      controller.abort();
      reject(new TaskCancelledError(message));
    };
    const onParent = () => cancel('Operation cancelled');
    const timer = setTimeout(() => cancel(`Operation timed out after ${ms}ms`), ms);
    parent.addEventListener('abort', onParent, { once: true });
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    };
    let pending: R | Promise<R>;
    try {
      pending = fn(controller.signal);
    } catch (error) {
      finish();
      reject(error);
      return;
    }
    Promise.resolve(pending).then(
      (value) => {
        if (settled) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        reject(error);
      },
    );
  });
}
