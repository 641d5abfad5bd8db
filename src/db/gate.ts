/**
 * A first-come, first-served lock with one holder at a time: the embedded database has a single
 * PostgreSQL session, and every user of it (the owner's own queries, each socket client) takes
 * turns through one of these.
 */
export class SessionGate {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves when it is the caller's turn, with the function that ends the turn (idempotent). */
  acquire(): Promise<() => void> {
    let end!: () => void;
    const turn = new Promise<void>((resolve) => {
      end = resolve;
    });
    const ready = this.#tail;
    this.#tail = ready.then(() => turn);
    let released = false;
    return ready.then(() => () => {
      if (released) return;
      released = true;
      end();
    });
  }
}
