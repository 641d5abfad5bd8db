import { adminRoute, type AnyRoute } from '../route.ts';
import { ElevationPageView, ElevationView, present } from '../presenters.ts';
import { ElevationParams, ElevationQuery } from '../schemas.ts';
import type { ElevationAdminService } from '../services/elevations.ts';

/** `/elevations`: granted elevations; revoking one reaches every verifier through the revocation feed. */
export function elevationRoutes(elevations: ElevationAdminService): AnyRoute[] {
  const tag = 'elevations';
  return [
    adminRoute({
      method: 'get',
      path: '/elevations',
      operationId: 'listElevations',
      summary: 'List elevations newest first, filtered',
      tag,
      query: ElevationQuery,
      response: { status: 200, description: 'A page of elevations', schema: ElevationPageView },
      handle: async ({ query }) => present.elevationPage(await elevations.list(query)),
    }),
    adminRoute({
      method: 'get',
      path: '/elevations/:id',
      operationId: 'getElevation',
      summary: 'Get an elevation',
      tag,
      params: ElevationParams,
      errors: [404],
      response: { status: 200, description: 'The elevation', schema: ElevationView },
      handle: async ({ params }) => present.elevation(await elevations.get(params.id)),
    }),
    adminRoute({
      method: 'post',
      path: '/elevations/:id/revoke',
      operationId: 'revokeElevation',
      summary: 'Revoke an elevation',
      tag,
      params: ElevationParams,
      errors: [404, 409],
      response: {
        status: 200,
        description: 'The revoked elevation; verifiers learn of it within 10 s',
        schema: ElevationView,
      },
      handle: async ({ params, actor }) =>
        present.elevation(await elevations.revoke(actor, params.id)),
    }),
  ];
}
