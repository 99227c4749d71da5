/**
 * Rate cards and volume tiers over HTTP (admin token, checked by the app's onRequest hook):
 *
 * - `POST /admin/rate-cards?effective_from=YYYY-MM-DD&unit=message|conversation`, body: one of
 *   Meta's rate-card CSVs as `text/csv` → 201 `{ effective_from, unit, rows, markets, currencies }`.
 * - `POST /admin/volume-tiers?effective_from=YYYY-MM-DD`, body: `market,currency,category,from,to,rate`
 *   as `text/csv` → 201 `{ effective_from, rows, schedules, markets, currencies }`.
 * - `GET /admin/rate-cards[?market&currency&unit]`, `GET /admin/volume-tiers[?market&currency&category]`:
 *   everything loaded, shipped defaults and operator rows, in force or not.
 *
 * Rates are JSON numbers carrying the exact decimal (`0.0008`). An optional `filename` query
 * parameter names the upload in its `source` (the CLI sends the file's name).
 */
import { Type } from 'typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { microsToJson, type Micros } from '../../billing/money.ts';
import { AppError } from '../../errors.ts';
import type { RateCardListing, VolumeTierListing } from '../../rates/rates-service.ts';
import type { Services } from '../../services.ts';
import { tierLabel } from '../../billing/volume-tiers.ts';
import { errorResponses } from '../schemas.ts';

/** Meta's cards for all markets of one currency are a few kB; 5 MB leaves room for any sheet. */
export const CSV_BODY_LIMIT = 5 * 1024 * 1024;

const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD, a real calendar date' });
const Unit = Type.Enum(['message', 'conversation']);
const Filename = Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'name of the uploaded file, kept in the rows\' source' }));
const Market = Type.Optional(Type.String({ minLength: 1, maxLength: 100 }));
const Currency = Type.Optional(Type.String({ pattern: '^[A-Za-z]{3}$' }));

const RateCardUpload = Type.Object({ effective_from: Day, unit: Unit, filename: Filename });
const TierUpload = Type.Object({ effective_from: Day, filename: Filename });
const RateCardFilter = Type.Object({ market: Market, currency: Currency, unit: Type.Optional(Unit) });
const TierFilter = Type.Object({
  market: Market,
  currency: Currency,
  category: Type.Optional(Type.Enum(['utility', 'authentication', 'authentication_international', 'authentication-international'])),
});

const unsupportedMediaType = (got: string | undefined) =>
  new AppError(415, 'unsupported_media_type', 'Unsupported Content-Type: send the CSV as text/csv', [
    `Content-Type: ${got ?? '(none)'}; expected Content-Type: text/csv`,
  ]);

function csvBody(request: FastifyRequest): string {
  if (typeof request.body !== 'string') throw unsupportedMediaType(request.headers['content-type']);
  return request.body;
}

const rates = (r: Partial<Record<string, Micros>>) =>
  Object.fromEntries(Object.entries(r).map(([category, micros]) => [category, microsToJson(micros!)]));

export function rateCardView(r: RateCardListing) {
  return {
    effective_from: r.effectiveFrom,
    unit: r.unit,
    market: r.market,
    currency: r.currency,
    rates: rates(r.rates),
    source: r.source,
    shipped_default: r.shippedDefault,
    replaced: r.replaced,
    loaded_at: r.loadedAt,
  };
}

export function volumeTierView(s: VolumeTierListing) {
  return {
    effective_from: s.effectiveFrom,
    market: s.market,
    currency: s.currency,
    category: s.category,
    tiers: s.tiers.map((t) => ({ tier: tierLabel(t), from: t.from, to: t.to, rate: microsToJson(t.rate) })),
    source: s.source,
    shipped_default: s.shippedDefault,
    replaced: s.replaced,
    loaded_at: s.loadedAt,
  };
}

// ---- Responses (documentation and tests only: see openapi.ts) ----

const Rate = Type.Number({ minimum: 0, description: 'Rate per unit in the currency unit (exact decimal)' });
const MarketOut = Type.String({ description: "Meta's pricing market, e.g. India, Rest of Africa" });
const CurrencyOut = Type.String({ description: 'ISO 4217 code' });
const LoadedAt = Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When an operator loaded it; null for a shipped default' });
const Source = Type.String({ description: 'Where the rows came from: the shipped reference file, or the upload (filename and time)' });

const RateCardUploaded = Type.Object({
  effective_from: Day,
  unit: Unit,
  rows: Type.Integer({ minimum: 0, description: 'Card rows (market × currency) loaded' }),
  markets: Type.Array(MarketOut),
  currencies: Type.Array(CurrencyOut),
}, { description: 'What was loaded; everything already metered was re-priced' });

const VolumeTiersUploaded = Type.Object({
  effective_from: Day,
  rows: Type.Integer({ minimum: 0, description: 'Tier rows loaded' }),
  schedules: Type.Integer({ minimum: 0, description: 'Schedules (market × currency × category) loaded' }),
  markets: Type.Array(MarketOut),
  currencies: Type.Array(CurrencyOut),
}, { description: 'What was loaded; everything already metered was re-priced' });

const RateCardRow = Type.Object({
  effective_from: Day,
  unit: Unit,
  market: MarketOut,
  currency: CurrencyOut,
  rates: Type.Object({
    marketing: Type.Optional(Rate),
    utility: Type.Optional(Rate),
    authentication: Type.Optional(Rate),
    authentication_international: Type.Optional(Rate),
    service: Type.Optional(Rate),
    business_initiated: Type.Optional(Rate),
    user_initiated: Type.Optional(Rate),
  }, { description: 'Rate per category; a category the card has no rate for (n/a) is absent' }),
  source: Source,
  shipped_default: Type.Boolean({ description: 'Shipped with the build (true) or loaded by an operator (false)' }),
  replaced: Type.Boolean({ description: 'A shipped default an operator row for the same date, unit, market and currency replaced' }),
  loaded_at: LoadedAt,
});

const VolumeTierSchedule = Type.Object({
  effective_from: Day,
  market: MarketOut,
  currency: CurrencyOut,
  category: Type.Unsafe<string>({ type: 'string', enum: ['utility', 'authentication', 'authentication_international'] }),
  tiers: Type.Array(Type.Object({
    tier: Type.String({ description: "Meta's label, LOWER:UPPER (MAX for an open end)" }),
    from: Type.Integer({ minimum: 0 }),
    to: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null = no upper bound' }),
    rate: Rate,
  })),
  source: Source,
  shipped_default: Type.Boolean(),
  replaced: Type.Boolean(),
  loaded_at: LoadedAt,
});

const RateCardList = Type.Object({ count: Type.Integer({ minimum: 0 }), filters: RateCardFilter, rate_cards: Type.Array(RateCardRow) });
const VolumeTierList = Type.Object({ count: Type.Integer({ minimum: 0 }), filters: TierFilter, volume_tiers: Type.Array(VolumeTierSchedule) });

/** The CSV body is read raw (not validated by a schema); this documents it. */
const csvBodyDoc = (description: string) => ({ openapi: { body: Type.String({ description }), consumes: ['text/csv', 'application/csv'] } });

export const rateCardRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { ratesService } = services;

  // This plugin's routes read CSV only (the encapsulated context keeps the app's JSON parser for
  // every other route). Any other media type is refused with a 415 naming what to send.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string', bodyLimit: CSV_BODY_LIMIT }, (_request, body, done) => {
    done(null, body);
  });
  app.addContentTypeParser('*', (request, _payload, done) => {
    done(unsupportedMediaType(request.headers['content-type']), undefined);
  });

  app.post('/admin/rate-cards', {
    bodyLimit: CSV_BODY_LIMIT,
    config: csvBodyDoc("One of Meta's rate-card CSVs (title rows, `Market,Currency,<categories>`, `n/a`, currency symbols)"),
    schema: { summary: "Load one of Meta's rate cards (CSV); re-prices what was metered", querystring: RateCardUpload, response: { 201: RateCardUploaded, ...errorResponses(400, 401, 413, 415) } },
  }, async (request, reply) => {
    const q = request.query;
    const result = await ratesService.loadRateCard(csvBody(request), { effectiveFrom: q.effective_from, unit: q.unit, filename: q.filename });
    return reply.code(201).send({ effective_from: q.effective_from, unit: q.unit, ...result });
  });

  app.post('/admin/volume-tiers', {
    bodyLimit: CSV_BODY_LIMIT,
    config: csvBodyDoc('Tier rows: `market,currency,category,from,to,rate` (an empty `to` = no upper bound)'),
    schema: { summary: 'Load volume-tier schedules (CSV); re-prices what was metered', querystring: TierUpload, response: { 201: VolumeTiersUploaded, ...errorResponses(400, 401, 413, 415) } },
  }, async (request, reply) => {
    const q = request.query;
    const result = await ratesService.loadVolumeTiers(csvBody(request), { effectiveFrom: q.effective_from, filename: q.filename });
    return reply.code(201).send({ effective_from: q.effective_from, ...result });
  });

  app.get('/admin/rate-cards', { schema: { summary: 'Rate cards loaded: shipped defaults and operator rows, in force or not', querystring: RateCardFilter, response: { 200: RateCardList, ...errorResponses(400, 401) } } }, async (request) => {
    const list = ratesService.listRateCards(request.query).map(rateCardView);
    return { count: list.length, filters: request.query, rate_cards: list };
  });

  app.get('/admin/volume-tiers', { schema: { summary: 'Volume-tier schedules loaded: shipped defaults and operator rows', querystring: TierFilter, response: { 200: VolumeTierList, ...errorResponses(400, 401) } } }, async (request) => {
    const list = ratesService.listVolumeTiers(request.query).map(volumeTierView);
    return { count: list.length, filters: request.query, volume_tiers: list };
  });
};
