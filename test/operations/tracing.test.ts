import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  trace,
  type Attributes,
  type Span,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { registerAgent, requestElevation, userToken } from '../helpers/agents.ts';

interface Recorded {
  name: string;
  attributes: Attributes;
  status?: SpanStatus;
  ended: boolean;
}

/** A TracerProvider that records spans, registered globally as an OpenTelemetry SDK would be. */
function recordingProvider(): { provider: TracerProvider; spans: Recorded[] } {
  const spans: Recorded[] = [];
  const makeSpan = (name: string, options?: SpanOptions): Span => {
    const rec: Recorded = { name, attributes: { ...options?.attributes }, ended: false };
    spans.push(rec);
    const span = {
      spanContext: () => ({ traceId: '0'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
      setAttribute: (k: string, v: unknown) => ((rec.attributes[k] = v as never), span),
      setAttributes: (a: Attributes) => (Object.assign(rec.attributes, a), span),
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus: (s: SpanStatus) => ((rec.status = s), span),
      updateName: (n: string) => ((rec.name = n), span),
      end: () => void (rec.ended = true),
      isRecording: () => true,
      recordException: () => {},
    };
    return span as unknown as Span;
  };
  const tracer = {
    startSpan: makeSpan,
    startActiveSpan: (name: string, ...rest: unknown[]) => {
      const fn = rest.at(-1) as (s: Span) => unknown;
      const options = rest.length > 1 ? (rest[0] as SpanOptions) : undefined;
      return fn(makeSpan(name, options));
    },
  } as unknown as Tracer;
  return { provider: { getTracer: () => tracer }, spans };
}

describe('OpenTelemetry spans of the server', () => {
  const rec = recordingProvider();
  let t: TestServer;
  beforeAll(async () => {
    trace.setGlobalTracerProvider(rec.provider);
    t = await startTestServer('pglite', { CIBA_POLL_INTERVAL: '1' });
    await t.server.users.create({
      email: 'dev@example.com',
      password: 'dev password',
      roles: ['developer'],
    });
  });
  afterAll(async () => {
    await t?.close();
    trace.disable();
  });

  it('records a server span per request with its route and status, and a span per elevation request', async () => {
    const agent = await registerAgent(t);
    const user = await userToken(agent, 'dev@example.com', 'dev password');
    await requestElevation(agent, user.access_token, 'mcp:deploy:staging');
    const http = rec.spans.filter((s) => s.name.startsWith('HTTP '));
    expect(http.length).toBeGreaterThan(3);
    const token = http.find((s) => s.attributes['http.route'] === '/token');
    expect(token?.name).toBe('HTTP POST /token');
    // Routes are templates, so ids in paths never become span names.
    expect(http.map((s) => s.name)).toContain('HTTP GET /interaction/:uid');
    expect(token?.attributes['http.response.status_code']).toBe(200);
    expect(http.every((s) => s.ended)).toBe(true);
    const elevation = rec.spans.find((s) => s.name === 'elevation.request');
    expect(elevation?.attributes).toMatchObject({
      'mcp.elevation.scopes': 'mcp:deploy:staging',
      'mcp.elevation.channel': 'ciba',
    });
  });
});
