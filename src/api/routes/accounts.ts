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
import { ClientParams, errorResponses, Nullable } from '../schemas.ts';

const TiersQuery = Type.Object({
  month: Type.Optional(Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM (the effective_month Meta announced); all months when absent' })),
});

const MetaTierResponse = Type.Object({
  waba_id: Type.String(),
  pricing_category: Type.String({ description: 'Canonical spelling: utility, authentication, authentication_international' }),
  effective_month: Type.String({ description: 'YYYY-MM' }),
  region: Type.String({ description: 'As Meta sent it, e.g. INDIA, REST_OF_AFRICA' }),
  market: Nullable(Type.String(), { description: "The meter's market name for the region; null when not recognised" }),
  meta_tier: Type.String({ description: "Meta's current tier, LOWER:UPPER (e.g. 100001:1000000, 80000001:MAX)" }),
  meta_tier_update_time: Type.Integer({ description: 'Official time (UNIX seconds) of the current tier' }),
  meta_tier_updates: Type.Array(Type.Object({ tier: Type.String(), tier_update_time: Type.Integer() }), { description: 'Every tier announced for the group, oldest first' }),
  portfolio_or_waba_id: Type.String({ description: "The accrual group the meter counted: the client's business portfolio, else the WABA" }),
  computed_tier: Nullable(Type.String(), { description: "The meter's tier for the group; null when it has none" }),
  computed_count: Nullable(Type.Integer({ minimum: 0 }), { description: 'Charged messages the meter accrued in the group' }),
  difference: Type.String({ description: "How Meta's tier and the meter's compare" }),
});

const TiersResponse = Type.Object({
  client_id: Type.String(),
  business_portfolio_id: Nullable(Type.String()),
  month: Nullable(Type.String(), { description: 'The month asked for; null = all months' }),
  count: Type.Integer({ minimum: 0 }),
  tiers: Type.Array(MetaTierResponse),
}, { description: "Meta's volume tier per WABA × category × month × region, next to the meter's" });

export const accountRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants, accounts } = services;

  app.get('/api/v2/partners/:partner_id/clients/:client_id/info/tiers', { schema: { summary: "Meta's volume tiers for the client's WABAs, next to the meter's", params: ClientParams, querystring: TiersQuery, response: { 200: TiersResponse, ...errorResponses(400, 401, 404) } } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channels = await tenants.listChannels(p.partner_id, p.client_id);
    const tiers = await accounts.tiers(client, channels, request.query.month);
    return { client_id: client.id, business_portfolio_id: client.business_portfolio_id ?? null, month: request.query.month ?? null, count: tiers.length, tiers };
  });
};
