/**
 * `…/info/balance` for a client and for one channel: usage buckets and prices in the seed's
 * shape. Query parameters follow 360dialog: UNIX-second dates, `granularity` day|month in any
 * case (default month), and an app filter spelled `app_id` or `app_ids`.
 */
import { Type } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { badRequest } from '../../errors.ts';
import type { Granularity, UsageQuery } from '../../meter/usage-service.ts';
import type { Services } from '../../services.ts';
import { ChannelParams, ClientParams } from '../schemas.ts';

const DEFAULT_END = 4102358400; // 2099-12-31, as 360dialog documents

const UnixSeconds = Type.String({ pattern: '^[0-9]{1,11}$', description: 'UNIX timestamp in seconds (UTC)' });
const AppIdList = Type.String({ pattern: '^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$', description: 'Comma-separated app ids' });
export const BalanceQuery = Type.Object({
  start_date: Type.Optional(UnixSeconds),
  end_date: Type.Optional(UnixSeconds),
  granularity: Type.Optional(Type.String({ pattern: '^([Dd][Aa][Yy]|[Mm][Oo][Nn][Tt][Hh])$', description: 'day or month, any case' })),
  app_id: Type.Optional(AppIdList),
  app_ids: Type.Optional(AppIdList),
});

function usageQuery(q: { start_date?: string; end_date?: string; granularity?: string; app_id?: string; app_ids?: string }): UsageQuery {
  const start = q.start_date == null ? 0 : Number(q.start_date);
  const end = q.end_date == null ? DEFAULT_END : Number(q.end_date);
  if (start > end) throw badRequest('start_date is after end_date', [`start_date (${start}) must be less than or equal to end_date (${end})`], 'invalid_parameter');
  const ids = [q.app_id, q.app_ids].filter((s): s is string => s != null).flatMap((s) => s.split(','));
  return {
    start,
    end,
    granularity: (q.granularity ?? 'month').toLowerCase() as Granularity,
    appIds: ids.length ? ids : undefined,
  };
}

const ChargesQuery = Type.Object({
  start_date: Type.Optional(UnixSeconds),
  end_date: Type.Optional(UnixSeconds),
});

export const balanceRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants, usage, charges } = services;

  const chargesQuery = (q: { start_date?: string; end_date?: string }) => {
    const { start, end } = usageQuery(q);
    return { start, end };
  };

  // Every priced group behind an estimate, with the rule, market, card, tier and rate.
  app.get('/api/v2/partners/:partner_id/clients/:client_id/info/charges', { schema: { params: ClientParams, querystring: ChargesQuery } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channels = await tenants.listChannels(p.partner_id, p.client_id);
    return charges.explain(client, channels, chargesQuery(request.query));
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id/info/charges', { schema: { params: ChannelParams, querystring: ChargesQuery } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channel = await tenants.getChannel(p.partner_id, p.client_id, p.channel_id);
    return charges.explain(client, [channel], chargesQuery(request.query));
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/info/balance', { schema: { params: ClientParams, querystring: BalanceQuery } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channels = await tenants.listChannels(p.partner_id, p.client_id);
    return usage.balance(client, channels, usageQuery(request.query));
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id/info/balance', { schema: { params: ChannelParams, querystring: BalanceQuery } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channel = await tenants.getChannel(p.partner_id, p.client_id, p.channel_id);
    return usage.balance(client, [channel], usageQuery(request.query));
  });
};
