import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JsonRpcParseError, PayloadTooLargeError } from '../../../src/verifier/errors.ts';
import { readJsonRpcBody, type RequestWithBody } from '../../../src/verifier/http/body.ts';

/** A request whose body a parser in front already put on `req.body` (nothing left to stream). */
const withBody = (body: unknown): RequestWithBody =>
  Object.assign(Readable.from([]), { headers: {}, body }) as unknown as RequestWithBody;

const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } };

describe('readJsonRpcBody with a body already on req.body', () => {
  it.each([
    ['a string (express.text())', JSON.stringify(call)],
    ['a Buffer (express.raw())', Buffer.from(JSON.stringify(call))],
    ['a Uint8Array', new TextEncoder().encode(JSON.stringify(call))],
  ])('parses %s to decide it, and leaves req.body as it was', async (_kind, raw) => {
    const req = withBody(raw);
    expect(await readJsonRpcBody(req)).toEqual(call);
    expect(req.body).toBe(raw);
  });

  it.each([
    ['a string', 'not json'],
    ['a Buffer', Buffer.from('{"jsonrpc":')],
  ])('refuses %s that is not JSON with a parse error', async (_kind, raw) => {
    await expect(readJsonRpcBody(withBody(raw))).rejects.toBeInstanceOf(JsonRpcParseError);
  });

  it.each([
    ['a string', 'x'.repeat(65)],
    ['a Buffer', Buffer.alloc(65, 32)],
  ])('refuses %s over the limit before parsing it', async (_kind, raw) => {
    await expect(readJsonRpcBody(withBody(raw), 64)).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('returns a parsed body as it is', async () => {
    const req = withBody(call);
    expect(await readJsonRpcBody(req)).toBe(call);
  });
});
