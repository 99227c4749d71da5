/**
 * `GET …/clients/{client_id}/channels/{channel_id}/info/usage`: one channel's delivered messages
 * (PMP era) by time bucket, country, pricing category, pricing type and volume tier, shaped like
 * Meta's `pricing_analytics` (src/meter/message-usage-service.ts).
 *
 * Query: `start_date`, `end_date` (UNIX seconds, defaults 0 and 4102358400, as `…/info/balance`),
 * `granularity` (`half_hour`, `day`, `month`, any case, Meta's `DAILY`/`MONTHLY` too; default
 * `day`), `country_codes` (ISO alpha-2, comma-separated or repeated; `["US","IN"]` also read).
 *
 * The answer is compressed when the request's Accept-Encoding allows it (br, gzip or deflate) and
 * it is over COMPRESS_THRESHOLD bytes: a month of half hours is ~15 MB of repetitive JSON.
 */
import { constants as zlibConstants } from 'node:zlib';
import fastifyCompress from '@fastify/compress';
import { Type, type Static } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { badRequest } from '../../errors.ts';
import type { MessageUsageQuery, UsageGranularity } from '../../meter/message-usage-service.ts';
import type { Services } from '../../services.ts';
import { FORMATS } from '../formats.ts';
import { pricingAnalyticsJson } from '../pricing-analytics-json.ts';
import { ChannelParams, ErrorEnvelope } from '../schemas.ts';

const DEFAULT_END = 4102358400; // 2099-12-31, as 360dialog documents for …/info/balance

/** Answers smaller than this (bytes) are sent as they are: a few packets either way. */
export const COMPRESS_THRESHOLD = 1024;
/** What the route compresses with, in order of preference when a client accepts several alike (`*` is read as gzip). */
export const COMPRESS_ENCODINGS = ['br', 'gzip', 'deflate'] as const;

/** Accepted spellings (any case) → the granularity. */
const GRANULARITIES: Record<string, UsageGranularity> = {
  half_hour: 'half_hour', day: 'day', daily: 'day', month: 'month', monthly: 'month',
};
const anyCase = (word: string) => word.replace(/[a-z]/g, (c) => `[${c.toUpperCase()}${c}]`);

const UnixSeconds = Type.String({ pattern: '^[0-9]{1,11}$', description: 'UNIX timestamp in seconds (UTC)' });
export const MessageUsageQuerySchema = Type.Object({
  start_date: Type.Optional(UnixSeconds),
  end_date: Type.Optional(UnixSeconds),
  granularity: Type.Optional(Type.String({
    pattern: `^(${Object.keys(GRANULARITIES).map(anyCase).join('|')})$`,
    description: 'half_hour, day (also DAILY) or month (also MONTHLY), any case; default day',
  })),
  country_codes: Type.Optional(Type.Union([
    Type.String({ maxLength: 2000 }),
    Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 300 }),
  ], { description: 'ISO 3166-1 alpha-2 codes: comma-separated (US,IN), repeated, or ["US","IN"]; default all countries' })),
});

const DataPoint = Type.Object({
  start: Type.Integer({ description: "Bucket start, UNIX seconds (UTC)" }),
  end: Type.Integer({ description: 'Bucket end (exclusive): the next bucket\'s start' }),
  volume: Type.Integer({ description: 'Delivered messages' }),
  cost: Type.Number({ description: "Exact decimal in the client's currency: the sum of each message's charge-group rate (0 for free messages)" }),
  country: Type.Optional(Type.String({ description: "Recipient's ISO alpha-2 country; absent when unknown" })),
  pricing_category: Type.String({ description: 'MARKETING, MARKETING_LITE, UTILITY, AUTHENTICATION, AUTHENTICATION_INTERNATIONAL, SERVICE, or a newer category as Meta spells it' }),
  pricing_type: Type.String({ description: 'REGULAR (charged), FREE_CUSTOMER_SERVICE, FREE_ENTRY_POINT, or another FREE_* type Meta sent' }),
  tier: Type.Optional(Type.String({ description: 'Volume tier "LOWER:UPPER" of a charged message (0:MAX when untiered); absent on free messages' })),
  phone_number: Type.String({ description: "The channel's phone number, digits only" }),
  unpriced_volume: Type.Optional(Type.Integer({ description: 'Charged messages no rate card covers (their cost is not in `cost`); absent when 0' })),
});
export const MessageUsageResponse = Type.Object({
  pricing_analytics: Type.Object({
    data: Type.Array(Type.Object({ data_points: Type.Array(DataPoint) })),
  }),
  id: Type.String({ description: "The channel's WABA id (Meta's response names the WABA)" }),
  currency: Type.String({ description: 'Currency of every cost (the client\'s)' }),
  granularity: Type.Union([Type.Literal('half_hour'), Type.Literal('day'), Type.Literal('month')]),
}, {
  description: "Per-message usage shaped like Meta's pricing_analytics",
  headers: {
    'content-encoding': { type: 'string', enum: [...COMPRESS_ENCODINGS], description: `How the body is compressed: present when the request's Accept-Encoding allows one of ${COMPRESS_ENCODINGS.join(', ')} (preferred in that order where several are accepted alike) and the JSON is over ${COMPRESS_THRESHOLD} bytes` },
    vary: { type: 'string', description: 'Accept-Encoding: the body depends on it' },
  },
});

/** `US,in`, repeated parameters, `["US","IN"]`, `[US, IN]` → upper-case codes, each checked. */
function countryCodes(raw: string | string[] | undefined, errors: string[]): string[] | undefined {
  if (raw == null) return undefined;
  const parts = (Array.isArray(raw) ? raw : [raw])
    .flatMap((s) => s.split(','))
    .map((s) => s.replace(/^[\s[\]"']+|[\s[\]"']+$/g, ''))
    .filter((s) => s !== '');
  const codes: string[] = [];
  for (const p of parts) {
    if (FORMATS['country-code'](p)) codes.push(p.toUpperCase());
    else errors.push(`country_codes: ${JSON.stringify(p.length > 20 ? `${p.slice(0, 20)}…` : p)} is not an ISO 3166-1 alpha-2 country code`);
  }
  if (codes.length === 0 && parts.length === 0) errors.push('country_codes: name at least one country, or leave the parameter out');
  return [...new Set(codes)];
}

export const usageRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants, messageUsage } = services;

  // Compression, for this plugin's route only (registered in its scope). @fastify/compress does
  // the negotiation (q-values, identity, *), Vary and the threshold. The fastest levels: a month
  // of half hours (15.7 MB) is 0.83 MB at brotli quality 1 in ~12 ms, 0.92 MB at gzip level 1 in
  // ~22 ms, where brotli's usual 4 takes ~50 ms for 0.61 MB. In one synchronous call (on the event
  // loop, as the answer is written): the plugin's stream path, its default over a few KB, copies
  // the answer and pipes it through the thread pool, which measured ~25 ms slower for it.
  await root.register(fastifyCompress, {
    encodings: [...COMPRESS_ENCODINGS],
    threshold: COMPRESS_THRESHOLD,
    syncThreshold: Number.MAX_SAFE_INTEGER,
    brotliOptions: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } },
    zlibOptions: { level: 1 },
    globalDecompression: false, // a GET: no request body to inflate
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id/info/usage', {
    schema: {
      description: `Compressed (Content-Encoding ${COMPRESS_ENCODINGS.join(', ')}) when the request's Accept-Encoding allows it and the answer is over ${COMPRESS_THRESHOLD} bytes; a month of half hours is ~15 MB of JSON, ~0.8 MB compressed.`,
      params: ChannelParams,
      querystring: MessageUsageQuerySchema,
      response: { 200: MessageUsageResponse, 400: ErrorEnvelope, 401: ErrorEnvelope, 404: ErrorEnvelope, 500: ErrorEnvelope },
    },
  }, async (request, reply) => {
    const p = request.params;
    const qs = request.query;
    const errors: string[] = [];
    const start = qs.start_date == null ? 0 : Number(qs.start_date);
    const end = qs.end_date == null ? DEFAULT_END : Number(qs.end_date);
    if (start > end) errors.push(`start_date: (${start}) must be less than or equal to end_date (${end})`);
    const countries = countryCodes(qs.country_codes, errors);
    if (errors.length > 0) throw badRequest('The request has invalid parameters', errors, 'invalid_parameter');
    const client = await tenants.getClient(p.partner_id, p.client_id);
    const channel = await tenants.getChannel(p.partner_id, p.client_id, p.channel_id);
    const q: MessageUsageQuery = { start, end, granularity: GRANULARITIES[(qs.granularity ?? 'day').toLowerCase()], countries };
    // The answer's JSON text as bytes, written by the service (a month of half hours is 15 MB:
    // see pricingAnalyticsJson); with its content type set, Fastify sends a buffer as it is. The
    // route's types know only the parsed shape, which these bytes are.
    const json = pricingAnalyticsJson(await messageUsage.pricingAnalyticsColumns(client, channel, q));
    return reply.type('application/json; charset=utf-8').send(json as unknown as Static<typeof MessageUsageResponse>);
  });
};
