/**
 * What Meta's `account_update` webhooks said about a client's WABAs, over HTTP:
 * `…/info/tiers` lists Meta's volume tier per WABA × category × month × region next to the
 * meter's own tier for the same accrual group (business portfolio, else the WABA, × market ×
 * category × month), and says how they differ.
 */
import { Type } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../../services.ts';
import { ClientParams } from '../schemas.ts';

const TiersQuery = Type.Object({
  month: Type.Optional(Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM (the effective_month Meta announced); all months when absent' })),
});

export const accountRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants, accounts } = services;

  app.get('/api/v2/partners/:partner_id/clients/:client_id/info/tiers', { schema: { params: ClientParams, querystring: TiersQuery } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channels = await tenants.listChannels(p.partner_id, p.client_id);
    const tiers = await accounts.tiers(client, channels, request.query.month);
    return { client_id: client.id, business_portfolio_id: client.business_portfolio_id ?? null, month: request.query.month ?? null, count: tiers.length, tiers };
  });
};
