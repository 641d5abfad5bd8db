import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as verifier from '../../src/verifier/index.ts';
import {
  createMcpProtection,
  type AuditClient,
  type McpProtection,
  type McpProtectionOptions,
  type PolicyClient,
  type ProtectedMcpServer,
  type ProtectedResourceMetadata,
  type TokenVerifier,
  type VerifiedToken,
} from '../../src/verifier/index.ts';

// The `expectTypeOf` assertions are checked by `npm run typecheck` (test files are in tsconfig);
// at run time they are no-ops, so each block also checks what it can at run time.

/** The keys of T that a caller must give. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

describe('mcp-elevate/verifier: createMcpProtection', () => {
  it('needs only the issuer and the resource; every other option has a default', () => {
    expectTypeOf(createMcpProtection).parameters.toEqualTypeOf<[McpProtectionOptions]>();
    expectTypeOf<RequiredKeys<McpProtectionOptions>>().toEqualTypeOf<'issuer' | 'resource'>();
    expectTypeOf<McpProtectionOptions['issuer']>().toEqualTypeOf<string>();
    expectTypeOf<McpProtectionOptions['resource']>().toEqualTypeOf<string>();
    expectTypeOf<McpProtectionOptions['baseScopes']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<McpProtectionOptions['clientSecret']>().toEqualTypeOf<string | undefined>();
    // @ts-expect-error the resource (the `aud` of this server's tokens) is required
    const noResource: McpProtectionOptions = { issuer: 'http://localhost:3000' };
    expect(noResource.issuer).toBe('http://localhost:3000');
  });

  it('resolves to the wired parts: verifier, policy, guards, metadata and close', () => {
    expectTypeOf(createMcpProtection).returns.toEqualTypeOf<Promise<McpProtection>>();
    expectTypeOf<McpProtection['verifier']>().toEqualTypeOf<TokenVerifier>();
    expectTypeOf<McpProtection['policy']>().toEqualTypeOf<PolicyClient>();
    expectTypeOf<McpProtection['guard']>().parameters.toEqualTypeOf<
      [IncomingMessage, ServerResponse]
    >();
    expectTypeOf<McpProtection['guard']>().returns.resolves.toEqualTypeOf<
      VerifiedToken | undefined
    >();
    expectTypeOf<McpProtection['protectMcpServer']>().parameters.toEqualTypeOf<[McpServer]>();
    expectTypeOf<McpProtection['protectMcpServer']>().returns.toEqualTypeOf<ProtectedMcpServer>();
    expectTypeOf<McpProtection['metadata']>().toEqualTypeOf<ProtectedResourceMetadata>();
    expectTypeOf<McpProtection['metadataUrl']>().toEqualTypeOf<string>();
    expectTypeOf<McpProtection['audit']>().toEqualTypeOf<AuditClient | undefined>();
    expectTypeOf<McpProtection['close']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<VerifiedToken>().toHaveProperty('scopes').toEqualTypeOf<string[]>();
    expect(typeof createMcpProtection).toBe('function');
  });

  it('names its exports one by one and keeps internals out', () => {
    const source = readFileSync(new URL('../../src/verifier/index.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^export \*/m);
    const names = Object.keys(verifier);
    expect(names).toContain('createMcpProtection');
    // A process-wide mutable registry and helpers that may change without notice.
    for (const internal of [
      'sharedBreakers',
      'rateLimitKey',
      'quoteHeaderValue',
      'parseAuthorization',
      'schemeOf',
      'SDK_JSON_RESPONSE_LEAK_ISSUE',
    ])
      expect(names, internal).not.toContain(internal);
  });
});
