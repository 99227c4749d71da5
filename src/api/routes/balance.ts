/**
 * `…/info/balance` for a client and for one channel: usage buckets and prices in the seed's
 * shape. Query parameters follow 360dialog: UNIX-second dates, `granularity` day|month in any
 * case (default month), and an app filter spelled `app_id` or `app_ids`.
 */
import { Type, type Static } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { badRequest } from '../../errors.ts';
import type { Granularity, UsageQuery } from '../../meter/usage-service.ts';
import type { Services } from '../../services.ts';
import { ChannelParams, ClientParams, Count, ErrorEnvelope, errorResponse, errorResponses, Money, Nullable } from '../schemas.ts';

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

// ---- Responses (documentation and tests only: see openapi.ts, nothing is reshaped) ----

const UnixSecondsOut = Type.Integer({ minimum: 0, description: 'UNIX timestamp in seconds (UTC)' });

type CategoryFields<C extends string> = { [K in `${C}_paid_quantity` | `${C}_quantity`]: typeof Count } & { [K in `${C}_price`]: typeof Money };

/** `<c>_paid_quantity`, `<c>_price`, `<c>_quantity` of one category, in the seed's order. */
function categoryFields<C extends string>(c: C, what: string): CategoryFields<C> {
  return {
    [`${c}_paid_quantity`]: Type.Integer({ minimum: 0, description: `Paid ${what}` }),
    [`${c}_price`]: Type.Number({ minimum: 0, description: `Price of the paid ${what}, in the client's currency` }),
    [`${c}_quantity`]: Type.Integer({ minimum: 0, description: `All ${what}, paid and free` }),
  } as CategoryFields<C>;
}

/** One `usage[]` row (src/billing/usage.ts `usageRow`): the seed's fields, then wabameter's additive ones. */
// Typed as the loose record `usageRow` returns; documented field by field.
export const UsageRow = Type.Unsafe<Record<string, number | string>>(Type.Object({
  ...categoryFields('authentication', 'authentication units (authentication-international included)'),
  ...categoryFields('marketing', 'marketing units (marketing lite included)'),
  ...categoryFields('service', 'service units'),
  ...categoryFields('utility', 'utility units'),
  ...categoryFields('business_initiated', 'business-initiated conversations (CBP v1)'),
  free_entry_point: Type.Integer({ minimum: 0, description: 'Units free because they came through a free entry point' }),
  free_quantity: Type.Integer({ minimum: 0, description: 'free_tier + free_entry_point' }),
  free_tier: Type.Integer({ minimum: 0, description: 'Units free under the monthly free tier (CBP)' }),
  paid_quantity: Type.Integer({ minimum: 0, description: 'All paid units' }),
  period_date: Type.String({ format: 'date-time', description: "The bucket's start, YYYY-MM-DDT00:00:00Z (UTC)" }),
  quantity: Type.Integer({ minimum: 0, description: 'paid_quantity + free_quantity' }),
  total_price: Type.Number({ minimum: 0, description: "Sum of the categories' prices, in the client's currency" }),
  ...categoryFields('user_initiated', 'user-initiated conversations (CBP v1)'),
  // Additive fields (not in 360dialog's response).
  authentication_international_quantity: Type.Integer({ minimum: 0, description: 'Authentication-international units (also counted in authentication_*)' }),
  authentication_international_paid_quantity: Type.Integer({ minimum: 0, description: 'Paid authentication-international units' }),
  authentication_international_price: Type.Number({ minimum: 0, description: 'Price of the paid authentication-international units' }),
  marketing_lite_quantity: Type.Integer({ minimum: 0, description: 'Marketing lite units (also counted in marketing_*)' }),
  marketing_lite_paid_quantity: Type.Integer({ minimum: 0, description: 'Paid marketing lite units' }),
  marketing_lite_price: Type.Number({ minimum: 0, description: 'Price of the paid marketing lite units' }),
  other_quantity: Type.Integer({ minimum: 0, description: 'Units of a category Meta introduced after this build' }),
  other_paid_quantity: Type.Integer({ minimum: 0, description: 'Paid units of other categories' }),
  other_price: Type.Number({ minimum: 0, description: 'Price of the paid units of other categories' }),
  unpriced_quantity: Type.Integer({ minimum: 0, description: 'Paid units no rate was found for (their price counts as 0; see …/info/charges)' }),
  messages_sent: Type.Integer({ minimum: 0, description: 'Messages with a sent status' }),
  messages_delivered: Type.Integer({ minimum: 0, description: 'Messages with a delivered status' }),
  unclassified_messages: Type.Integer({ minimum: 0, description: 'Messages whose status carried no billing information' }),
}, { description: 'Usage of one day or month bucket' }));

const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit': { type: 'integer', description: 'Balance requests accepted per window for this client' },
  'x-ratelimit-remaining': { type: 'integer', description: 'Requests left in the current window' },
  'x-ratelimit-reset': { type: 'integer', description: 'Seconds until the whole quota is back' },
};

export const BalanceResponse = Type.Object({
  balance: Type.Number({ description: 'Prepaid funds: the sum of the booked entries (0 while nothing is booked); always a number' }),
  currency: Type.String({ description: "ISO 4217 code of the client's currency" }),
  last_renewal: Nullable(Type.Object({ date: Type.String(), amount: Type.Number() }), { description: 'The last top-up; null while there has been none' }),
  bi_price_for_currency_and_client_country: Type.Number({ minimum: 0, description: "Today's list price of one business-initiated (marketing) message for the client's country" }),
  ui_price_for_currency_and_client_country: Type.Number({ minimum: 0, description: "Today's list price of one user-initiated (service) message for the client's country" }),
  estimated_template_cost: Type.Number({ minimum: 0, description: 'Expected cost of one template message' }),
  granularity: Type.Union([Type.Literal('day'), Type.Literal('month')]),
  usage: Type.Array(UsageRow, { description: 'Buckets with usage, oldest first' }),
  price_notes: Type.Optional(Type.Array(Type.String(), { description: 'Why a list price above is 0 (unknown country, no rate)' })),
}, { description: "Usage and prices in 360dialog's shape", headers: RATE_LIMIT_HEADERS });

const BalanceResponses = {
  200: BalanceResponse,
  ...errorResponses(400, 401, 404),
  429: Type.Unsafe<Static<typeof ErrorEnvelope>>({
    ...errorResponse(429),
    headers: { 'retry-after': { type: 'integer', description: 'Seconds until one more request is accepted' }, ...RATE_LIMIT_HEADERS },
  }),
};

const Charge = Type.Object({
  period_date: Type.String({ format: 'date-time', description: "The UTC day bucket's start" }),
  local_date: Type.String({ format: 'date', description: "The billing day in the WABA's time zone (which card and tier schedule applied)" }),
  channel_id: Type.String(),
  unit: Type.Unsafe<string>({ type: 'string', enum: ['message', 'conversation'], description: 'PMP messages or CBP conversations' }),
  category: Type.String({ description: 'The billing category (canonical spelling, e.g. authentication_international)' }),
  rule: Type.String({ description: 'The billing rule, in words' }),
  market: Nullable(Type.String(), { description: "Meta's pricing market; null when the recipient's country is unknown" }),
  tier: Type.Integer({ minimum: 0, description: 'Volume tier reached (0 = list rate)' }),
  quantity: Type.Integer({ minimum: 0 }),
  rate: Nullable(Type.Number({ minimum: 0 }), { description: 'Rate per unit; null when no rate was found' }),
  amount: Type.Number({ minimum: 0 }),
  source: Nullable(Type.String(), { description: 'The rate card or tier schedule the rate came from' }),
  unpriced_reason: Nullable(Type.String(), { description: 'Why no rate was found' }),
}, { description: 'One charge group: paid units priced at one rate' });

export const ChargesResponse = Type.Object({
  currency: Type.String({ description: "ISO 4217 code of the client's currency" }),
  start_date: UnixSecondsOut,
  end_date: UnixSecondsOut,
  total_price: Money,
  paid_quantity: Count,
  unpriced_quantity: Count,
  charges: Type.Array(Charge),
}, { description: 'Every charge group behind the estimate' });

const ChargesResponses = { 200: ChargesResponse, ...errorResponses(400, 401, 404) };

export const balanceRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants, usage, charges } = services;

  const chargesQuery = (q: { start_date?: string; end_date?: string }) => {
    const { start, end } = usageQuery(q);
    return { start, end };
  };

  // Every priced group behind an estimate, with the rule, market, card, tier and rate.
  app.get('/api/v2/partners/:partner_id/clients/:client_id/info/charges', { schema: { summary: "The charge groups behind a client's estimate", params: ClientParams, querystring: ChargesQuery, response: ChargesResponses } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channels = await tenants.listChannels(p.partner_id, p.client_id);
    return charges.explain(client, channels, chargesQuery(request.query));
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id/info/charges', { schema: { summary: "The charge groups behind a channel's estimate", params: ChannelParams, querystring: ChargesQuery, response: ChargesResponses } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channel = await tenants.getChannel(p.partner_id, p.client_id, p.channel_id);
    return charges.explain(client, [channel], chargesQuery(request.query));
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/info/balance', { schema: { summary: "A client's usage and prices by day or month (360dialog's balance)", params: ClientParams, querystring: BalanceQuery, response: BalanceResponses } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channels = await tenants.listChannels(p.partner_id, p.client_id);
    return usage.balance(client, channels, usageQuery(request.query), 'client');
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id/info/balance', { schema: { summary: "One channel's usage and prices by day or month (360dialog's balance)", params: ChannelParams, querystring: BalanceQuery, response: BalanceResponses } }, async (request) => {
    const p = request.params;
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channel = await tenants.getChannel(p.partner_id, p.client_id, p.channel_id);
    return usage.balance(client, [channel], usageQuery(request.query), 'channel');
  });
};
