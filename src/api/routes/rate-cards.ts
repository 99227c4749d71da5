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

  app.post('/admin/rate-cards', { bodyLimit: CSV_BODY_LIMIT, schema: { querystring: RateCardUpload } }, async (request, reply) => {
    const q = request.query;
    const result = await ratesService.loadRateCard(csvBody(request), { effectiveFrom: q.effective_from, unit: q.unit, filename: q.filename });
    return reply.code(201).send({ effective_from: q.effective_from, unit: q.unit, ...result });
  });

  app.post('/admin/volume-tiers', { bodyLimit: CSV_BODY_LIMIT, schema: { querystring: TierUpload } }, async (request, reply) => {
    const q = request.query;
    const result = await ratesService.loadVolumeTiers(csvBody(request), { effectiveFrom: q.effective_from, filename: q.filename });
    return reply.code(201).send({ effective_from: q.effective_from, ...result });
  });

  app.get('/admin/rate-cards', { schema: { querystring: RateCardFilter } }, async (request) => {
    const list = ratesService.listRateCards(request.query).map(rateCardView);
    return { count: list.length, filters: request.query, rate_cards: list };
  });

  app.get('/admin/volume-tiers', { schema: { querystring: TierFilter } }, async (request) => {
    const list = ratesService.listVolumeTiers(request.query).map(volumeTierView);
    return { count: list.length, filters: request.query, volume_tiers: list };
  });
};
