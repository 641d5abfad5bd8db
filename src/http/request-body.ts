import type { IncomingMessage } from 'node:http';

/**
 * Reads the whole body (at most `max` bytes) and puts it back at the front of the stream, so
 * that the next reader (oidc-provider's own parser, `@koa/bodyparser`) reads it from the stream
 * as if nothing had. Only data already buffered is read, and the stream is never read past its end
 * while empty, so its `end` is still to come for the next reader.
 *
 * @param replace what goes back instead of the body, e.g. a rewritten form; it runs synchronously
 *   between the last read and the put-back (the stream's end is called off only then). Whoever
 *   changes the body's length also sets the request's `Content-Length` to the new one.
 * @returns the body as read, or undefined when it is larger than `max` (the stream is then
 *   partly read: answer the request without reading it further).
 * @throws Error when the client aborts or the stream fails.
 */
export async function readAndPutBack(
  req: IncomingMessage,
  max: number,
  replace?: (body: Buffer) => Buffer,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    while (req.readableLength > 0) {
      const chunk = req.read() as Buffer;
      chunks.push(chunk);
      size += chunk.length;
      if (size > max) return undefined;
    }
    // `complete`: the whole message arrived; everything left is in the buffer (now empty).
    if (req.complete) break;
    await moreData(req);
  }
  const body = Buffer.concat(chunks, size);
  const back = replace === undefined ? body : replace(body);
  // Synchronously after the last read: the stream's end is only scheduled, and is called off
  // by the data being back in its buffer.
  if (back.length) req.unshift(back);
  return body;
}

function moreData(req: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => {
      req.off('readable', ready).off('error', done).off('close', closed);
      if (err) reject(err instanceof Error ? err : new Error('request stream failed'));
      else resolve();
    };
    const ready = () => done();
    const closed = () => done(req.complete ? undefined : new Error('request aborted'));
    req.once('readable', ready).once('error', done).once('close', closed);
  });
}
