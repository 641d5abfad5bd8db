/**
 * `mcp-elevate/policy`: the pure decision engine (ARCHITECTURE.md §4). Plain data in, a `Decision` out,
 * the clock passed in; no I/O and no dependency beyond zod.
 * @module
 */
export { PolicyError } from './errors.ts';
export type { PolicyErrorCode } from './errors.ts';
export {
  ApprovalSchema,
  CatalogueSchema,
  ConditionsSchema,
  PermissionSchema,
  ProtectedResourceSchema,
  RoleNameSchema,
  RoleSchema,
  ScopeDefinitionSchema,
  ScopeNameSchema,
  TimeWindowSchema,
  catalogueJsonSchema,
} from './schema.ts';
export type {
  Approval,
  Catalogue,
  CatalogueInput,
  Conditions,
  Permission,
  ProtectedResource,
  Role,
  RoleInput,
  ScopeDefinition,
  TimeWindow,
} from './schema.ts';
export { formatPath, formatZodIssues } from './issues.ts';
export { isElevated, parseCatalogue, validateCatalogue } from './catalogue.ts';
export { buildRoleGraph, checkRoleChange, checkRoleRemoval } from './roles.ts';
export type { RoleGraph } from './roles.ts';
export { DEFAULT_ROLES } from './default-roles.ts';
export { actionMatches, globMatch, permissionCovers } from './glob.ts';
export { conditionsHold, inTimeWindow, localMinuteOfDay } from './conditions.ts';
export type { ConditionResult, ToolArguments } from './conditions.ts';
export { decide, toolVisible } from './decide.ts';
export type { DecideInput, Decision, Principal, VisibilityInput } from './decide.ts';
export { MCP_TOOL_CALL, ToolCallDetailSchema } from './tool-call.ts';
export type { ToolCall, ToolCallDetail } from './tool-call.ts';
export { canonicalJson } from './canonical-json.ts';
export { ResourceIndex, normalizeResourceUri, sameResource } from './resource-uri.ts';
