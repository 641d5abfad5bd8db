export {
  challenge,
  quoteHeaderValue,
  type ChallengeContext,
  type ChallengeOptions,
  type ErrorResponse,
} from './challenge.ts';
export {
  protectedResourceMetadata,
  metadataPath,
  metadataUrl,
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
} from './metadata.ts';
export {
  verifyBearer,
  parseAuthorization,
  schemeOf,
  type HeaderValue,
  type RequestInfo,
} from './bearer.ts';
export { headerMismatch, HEADER_MISMATCH } from './routing-headers.ts';
export { readJsonRpcBody, DEFAULT_BODY_LIMIT, type RequestWithBody } from './body.ts';
export {
  gateToolCalls,
  UNAUTHORIZED,
  type DecideToolCall,
  type ToolCall,
  type ToolCallDecision,
  type GateOutcome,
} from './decide.ts';
export {
  createGuard,
  type Guard,
  type GuardResult,
  type ResourceServerAuthOptions,
} from './guard.ts';
export { nodeHttpAuth, writeGuardResponse, type AuthenticatedRequest } from './node.ts';
export { expressAuth, type ExpressLikeRequest } from './express.ts';
export { koaAuth, type KoaLikeContext } from './koa.ts';
