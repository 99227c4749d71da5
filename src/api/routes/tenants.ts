/**
 * Tenants over HTTP: partners (admin), clients and channels (partner key).
 */
import { Type } from 'typebox';
import { parseEligibility } from '../../billing/auth-international.ts';
import { badRequest } from '../../errors.ts';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../../services.ts';
import type { Channel, Client } from '../../store/tenants-store.ts';
import { ClientParams, PartnerParams, ChannelParams } from '../schemas.ts';

export function clientView(c: Client) {
  return {
    id: c.id,
    partner_id: c.partner_id,
    name: c.name,
    currency: c.currency,
    country: c.country,
    payment_mode: c.payment_mode,
    timezone: c.timezone,
    created_at: c.created_at,
    business_portfolio_id: c.business_portfolio_id ?? null,
    auth_international_eligibility: parseEligibility(c.auth_international_eligibility),
  };
}

export function channelView(c: Channel) {
  return {
    id: c.id,
    partner_id: c.partner_id,
    client_id: c.client_id,
    phone_number: c.phone_number,
    phone_number_id: c.phone_number_id,
    waba_id: c.waba_id,
    app_id: c.app_id,
    timezone: c.timezone,
    created_at: c.created_at,
    // The nested shape 360dialog's channel objects use, read by existing partner code.
    setup_info: { phone_number: c.phone_number },
    waba_account: { id: c.waba_id },
    integration: { app_id: c.app_id },
  };
}

const NewPartner = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) });
// `type: [X, 'null']` rather than a union: with coerceTypes a union would coerce null to "" and
// report every branch; this way null clears the field and a bad value gets one precise error.
const UnixSecondsField = { type: 'integer', minimum: 946684800, maximum: 4102444800, description: 'Unix seconds (2000-01-01 … 2100-01-01)' };
const BusinessPortfolioId = Type.Unsafe<string | null>({
  type: ['string', 'null'],
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  description: "Meta business portfolio id: the client's WABAs in one portfolio share volume tiers; null = none",
});
const AuthInternationalEligibility = Type.Unsafe<{ start_time: number; exception_countries?: { country_code: string; start_time: number }[] } | null>({
  type: ['object', 'null'],
  description: "Meta's auth_international_rate_eligibility: a general start time and per-country exceptions; null = not eligible",
  required: ['start_time'],
  // propertyNames rather than additionalProperties: false, which the validator would answer by
  // dropping a misspelt key silently (removeAdditional) instead of refusing it.
  propertyNames: { enum: ['start_time', 'exception_countries'] },
  properties: {
    start_time: UnixSecondsField,
    exception_countries: {
      type: 'array',
      maxItems: 300,
      items: {
        type: 'object',
        required: ['country_code', 'start_time'],
        propertyNames: { enum: ['country_code', 'start_time'] },
        properties: {
          country_code: { type: 'string', format: 'country-code', description: 'ISO 3166-1 alpha-2' },
          start_time: UnixSecondsField,
        },
      },
    },
  },
});
const NewClient = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  currency: Type.String({ format: 'currency-code', description: 'ISO 4217 code of the currency the client is billed in' }),
  country: Type.String({ format: 'country-code', description: 'ISO 3166-1 alpha-2 country of the client' }),
  payment_mode: Type.Union([Type.Literal('direct'), Type.Literal('partner')]),
  timezone: Type.Optional(Type.String({ format: 'iana-time-zone', description: 'IANA time zone, e.g. Europe/Berlin' })),
  business_portfolio_id: Type.Optional(BusinessPortfolioId),
  auth_international_eligibility: Type.Optional(AuthInternationalEligibility),
});
const PATCHABLE = ['name', 'business_portfolio_id', 'auth_international_eligibility'];
const ClientPatch = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  business_portfolio_id: Type.Optional(BusinessPortfolioId),
  auth_international_eligibility: Type.Optional(AuthInternationalEligibility),
}, { minProperties: 1 });
const NewChannel = Type.Object({
  phone_number: Type.String({ pattern: '^\\+?[0-9 ()-]{5,32}$' }),
  phone_number_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  waba_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  app_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  timezone: Type.Optional(Type.String({ format: 'iana-time-zone', description: 'IANA time zone, e.g. Europe/Berlin' })),
});
const Paging = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  offset: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const tenantRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants } = services;

  app.post('/admin/partners', { schema: { body: NewPartner } }, async (request, reply) => {
    return reply.code(201).send(await tenants.createPartner(request.body.name));
  });

  app.post('/api/v2/partners/:partner_id/clients', { schema: { params: PartnerParams, body: NewClient } }, async (request, reply) => {
    const client = await tenants.createClient(request.params.partner_id, request.body);
    return reply.code(201).send(clientView(client));
  });

  app.get('/api/v2/partners/:partner_id/clients', { schema: { params: PartnerParams, querystring: Paging } }, async (request) => {
    const all = await tenants.listClients(request.params.partner_id);
    const limit = request.query.limit ?? 100;
    const offset = request.query.offset ?? 0;
    const page = all.slice(offset, offset + limit).map(clientView);
    return { count: page.length, filters: {}, sort: ['created_at'], limit, offset, total: all.length, clients: page };
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id', { schema: { params: ClientParams } }, async (request) => {
    return clientView(await tenants.getClient(request.params.partner_id, request.params.client_id));
  });

  app.patch('/api/v2/partners/:partner_id/clients/:client_id', {
    schema: { params: ClientParams, body: ClientPatch },
    // Fields PATCH cannot change are refused by name (the validator would drop them silently).
    preValidation: async (request) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
      const other = Object.keys(body).filter((k) => !PATCHABLE.includes(k));
      if (other.length > 0) {
        throw badRequest('The request has invalid parameters', other.map((k) => `${k.slice(0, 40)}: cannot be changed; PATCH accepts ${PATCHABLE.join(', ')}`), 'invalid_parameter');
      }
    },
  }, async (request) => {
    const p = request.params;
    return clientView(await tenants.updateClient(p.partner_id, p.client_id, request.body));
  });

  app.post('/api/v2/partners/:partner_id/clients/:client_id/channels', { schema: { params: ClientParams, body: NewChannel } }, async (request, reply) => {
    const { channel, replayed } = await tenants.createChannel(request.params.partner_id, request.params.client_id, request.body);
    return reply.code(201).send({ ...channelView(channel), replayed_statuses: replayed });
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels', { schema: { params: ClientParams, querystring: Paging } }, async (request) => {
    const all = await tenants.listChannels(request.params.partner_id, request.params.client_id);
    const limit = request.query.limit ?? 100;
    const offset = request.query.offset ?? 0;
    const page = all.slice(offset, offset + limit).map(channelView);
    return { count: page.length, filters: {}, sort: ['created_at'], limit, offset, total: all.length, partner_channels: page };
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id', { schema: { params: ChannelParams } }, async (request) => {
    const p = request.params;
    return channelView(await tenants.getChannel(p.partner_id, p.client_id, p.channel_id));
  });
};
