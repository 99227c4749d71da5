/**
 * Tenants over HTTP: partners (admin), clients and channels (partner key), and the Partner API's
 * list endpoints (`limit`, `offset`, `sort`, `filters`; src/tenants/list-query.ts).
 */
import { Type, type TSchema } from 'typebox';
import { parseEligibility } from '../../billing/auth-international.ts';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../../services.ts';
import type { ChannelWithClient, Client } from '../../store/tenants-store.ts';
import { CONTACT_INFO_FIELDS, DEFAULT_MAX_CHANNELS, parseContactInfo } from '../../tenants/client-attributes.ts';
import { CHANNEL_ACCOUNT_MODE, CHANNEL_STATUS, CLIENT_STATUS, FB_ACCOUNT_STATUS } from '../../tenants/derived-fields.ts';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from '../../tenants/tenants-service.ts';
import { ClientParams, ErrorEnvelope, PartnerParams, ChannelParams, refuseFieldsOutside } from '../schemas.ts';

export function clientView(c: Client) {
  return {
    id: c.id,
    partner_id: c.partner_id,
    name: c.name,
    currency: c.currency,
    country: c.country,
    payment_mode: c.payment_mode as 'direct' | 'partner',
    timezone: c.timezone,
    created_at: c.created_at,
    status: CLIENT_STATUS,
    modified_at: c.modified_at ?? c.created_at,
    organisation: c.organisation ?? null,
    contact_info: parseContactInfo(c.contact_info),
    partner_payload: c.partner_payload ?? null,
    max_channels: c.max_channels ?? DEFAULT_MAX_CHANNELS,
    business_portfolio_id: c.business_portfolio_id ?? null,
    auth_international_eligibility: parseEligibility(c.auth_international_eligibility),
  };
}

export function channelView(c: ChannelWithClient) {
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
    // Constants the meter has no source for (src/tenants/derived-fields.ts), never null.
    status: CHANNEL_STATUS,
    account_mode: CHANNEL_ACCOUNT_MODE,
    // The nested shape 360dialog's channel objects use, read by existing partner code.
    setup_info: { phone_number: c.phone_number },
    waba_account: { id: c.waba_id, fb_account_status: FB_ACCOUNT_STATUS },
    integration: { app_id: c.app_id },
    client: { id: c.client_id, name: c.client_name, partner_payload: c.client_partner_payload ?? null, contact_info: parseContactInfo(c.client_contact_info) },
  };
}

// ---- response schemas (they also drive serialization and the OpenAPI document) --------------

/** The error envelope for each listed status (src/api/error-handler.ts sends it). */
export function errorResponses(...codes: number[]): Record<number, typeof ErrorEnvelope> {
  return Object.fromEntries(codes.map((c) => [c, ErrorEnvelope]));
}

const IsoInstant = Type.String({ format: 'date-time', description: 'ISO 8601 instant (UTC), e.g. 2026-02-03T10:15:00.000Z' });
const EligibilityView = Type.Union([
  Type.Object({
    start_time: Type.Integer({ description: 'Unix seconds' }),
    exception_countries: Type.Array(Type.Object({ country_code: Type.String(), start_time: Type.Integer() })),
  }),
  Type.Null(),
], { description: "Meta's auth_international_rate_eligibility; null = not eligible" });

const ContactInfoView = Type.Object(
  Object.fromEntries(CONTACT_INFO_FIELDS.map((f) => [f, Type.Optional(Type.String())])),
  { description: 'Contact fields the partner sent about its client ({} when none)' },
);

const clientProperties = {
  id: Type.String({ description: 'Client id (ends in CL)' }),
  partner_id: Type.String(),
  name: Type.String(),
  currency: Type.String({ description: 'ISO 4217, upper case' }),
  country: Type.String({ description: 'ISO 3166-1 alpha-2, upper case' }),
  payment_mode: Type.Union([Type.Literal('direct'), Type.Literal('partner')]),
  timezone: Type.String({ description: 'IANA time zone' }),
  created_at: IsoInstant,
  status: Type.String({ description: `Always "${CLIENT_STATUS}" (derived: the meter holds no client life cycle)` }),
  modified_at: IsoInstant,
  organisation: Type.Union([Type.String(), Type.Null()], { description: 'As set by the partner' }),
  contact_info: ContactInfoView,
  partner_payload: Type.Union([Type.String(), Type.Null()], { description: "The partner's own reference for this client, as set by it" }),
  max_channels: Type.Integer({ minimum: 1, description: `Channels the client may register (default ${DEFAULT_MAX_CHANNELS})` }),
  business_portfolio_id: Type.Union([Type.String(), Type.Null()]),
  auth_international_eligibility: EligibilityView,
};
export const ClientView = Type.Object(clientProperties, { description: 'A client (one business)' });

const channelProperties = {
  id: Type.String({ description: 'Channel id (ends in CH)' }),
  partner_id: Type.String(),
  client_id: Type.String(),
  phone_number: Type.String({ description: 'As registered, e.g. +49 30 1234567' }),
  phone_number_id: Type.String({ description: "Meta's phone number id" }),
  waba_id: Type.String(),
  app_id: Type.String(),
  timezone: Type.String({ description: 'IANA time zone (the WABA\'s)' }),
  created_at: IsoInstant,
  status: Type.String({ description: `Always "${CHANNEL_STATUS}" (derived constant)` }),
  account_mode: Type.String({ description: `Always "${CHANNEL_ACCOUNT_MODE}" (derived constant)` }),
  setup_info: Type.Object({ phone_number: Type.String() }),
  waba_account: Type.Object({
    id: Type.String({ description: 'The WABA id (= waba_id)' }),
    fb_account_status: Type.String({ description: `Always "${FB_ACCOUNT_STATUS}" (derived constant)` }),
  }),
  integration: Type.Object({ app_id: Type.String() }),
  client: Type.Object({
    id: Type.String(),
    name: Type.String(),
    partner_payload: Type.Union([Type.String(), Type.Null()]),
    contact_info: ContactInfoView,
  }, { description: "The channel's client, as 360dialog's channel objects carry it" }),
};
export const ChannelView = Type.Object(channelProperties, { description: 'A channel (one phone number)' });
const CreatedChannel = Type.Object({ ...channelProperties, replayed_statuses: Type.Integer({ description: 'Statuses already received for this number before its registration; the meter counts them in the background, and reads of the client wait until it has' }) });
// Responses are serialized with JSON.stringify (openapi.ts), so a field added later is sent even
// before it is listed here; test/openapi/ fails until it is.
const CreatedPartner = Type.Object({
  id: Type.String({ description: 'Partner id (ends in PA)' }),
  name: Type.String(),
  api_key: Type.String({ description: "The partner's first API key (named default), for X-API-Key. Shown once; only its hash is stored" }),
}, { description: 'The new partner and its first API key' });

function listEnvelope<T extends TSchema>(key: 'clients' | 'partner_channels', item: T) {
  return Type.Object({
    count: Type.Integer({ description: 'Items in this page' }),
    filters: Type.Record(Type.String(), Type.Unknown(), { description: 'The filters applied, as parsed from the request ({} when none)' }),
    sort: Type.Array(Type.String(), { description: 'The sort applied, e.g. ["name","-created_at"]; default ["created_at"]' }),
    limit: Type.Integer(),
    offset: Type.Integer(),
    total: Type.Integer({ description: 'Items matching the filters, over all pages' }),
    [key]: Type.Array(item),
  });
}
export const ClientList = listEnvelope('clients', ClientView);
export const ChannelList = listEnvelope('partner_channels', ChannelView);

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
// Text a partner sets about its client; in PATCH null = unchanged and "" clears (client-attributes.ts).
const nullableText = (maxLength: number, description: string) => Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength, description });
const Organisation = nullableText(200, 'The client\'s organisation, as the partner names it');
const PartnerPayload = nullableText(4096, "The partner's own reference for this client (free text)");
const MaxChannels = Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 100000, description: `Channels the client may register; default ${DEFAULT_MAX_CHANNELS}; null = unchanged` });
const ContactInfoInput = Type.Unsafe<Record<string, string | null> | null>({
  type: ['object', 'null'],
  description: `Contact fields (${CONTACT_INFO_FIELDS.join(', ')}); in PATCH merged key by key, a key sent as null or "" is removed`,
  propertyNames: { enum: [...CONTACT_INFO_FIELDS] },
  additionalProperties: { type: ['string', 'null'], maxLength: 256 },
});
const clientAttributes = {
  organisation: Type.Optional(Organisation),
  contact_info: Type.Optional(ContactInfoInput),
  partner_payload: Type.Optional(PartnerPayload),
  max_channels: Type.Optional(MaxChannels),
};

const NewClient = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  currency: Type.String({ format: 'currency-code', description: 'ISO 4217 code of the currency the client is billed in' }),
  country: Type.String({ format: 'country-code', description: 'ISO 3166-1 alpha-2 country of the client' }),
  payment_mode: Type.Union([Type.Literal('direct'), Type.Literal('partner')]),
  timezone: Type.Optional(Type.String({ format: 'iana-time-zone', description: 'IANA time zone, e.g. Europe/Berlin' })),
  business_portfolio_id: Type.Optional(BusinessPortfolioId),
  auth_international_eligibility: Type.Optional(AuthInternationalEligibility),
  ...clientAttributes,
});
const ClientPatch = Type.Object({
  name: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 200, description: 'null = unchanged' })),
  business_portfolio_id: Type.Optional(BusinessPortfolioId),
  auth_international_eligibility: Type.Optional(AuthInternationalEligibility),
  ...clientAttributes,
}, { minProperties: 1 });
const PATCHABLE = Object.keys(ClientPatch.properties);
const NewChannel = Type.Object({
  phone_number: Type.String({ pattern: '^\\+?[0-9 ()-]{5,32}$' }),
  phone_number_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  waba_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  app_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
  timezone: Type.Optional(Type.String({ format: 'iana-time-zone', description: 'IANA time zone, e.g. Europe/Berlin' })),
});
export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_LIMIT, description: `Page size, default ${DEFAULT_LIST_LIMIT}` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, description: 'Items to skip, default 0' })),
  sort: Type.Optional(Type.Union([
    Type.String({ maxLength: 1000 }),
    Type.Array(Type.String({ maxLength: 200 }), { maxItems: 10 }),
  ], { description: '`field` ascending, `-field` descending; a list as repeated parameters or comma-separated (`name,-created_at`). Default created_at' })),
  filters: Type.Optional(Type.String({ maxLength: 4000, description: 'A JSON object as a string, e.g. {"name":"Acme"}; the Python-style {\'status\': \'ready\'} is accepted too' })),
});

export const tenantRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants } = services;

  app.post('/admin/partners', { schema: { body: NewPartner, response: { 201: CreatedPartner, ...errorResponses(400, 401, 413, 415, 500) } } }, async (request, reply) => {
    return reply.code(201).send(await tenants.createPartner(request.body.name));
  });

  app.post('/api/v2/partners/:partner_id/clients', { schema: { params: PartnerParams, body: NewClient, response: { 201: ClientView, ...errorResponses(400, 401, 404, 413, 415, 500) } } }, async (request, reply) => {
    const client = await tenants.createClient(request.params.partner_id, request.body);
    return reply.code(201).send(clientView(client));
  });

  const listErrors = errorResponses(400, 401, 404, 500);

  app.get('/api/v2/partners/:partner_id/clients', { schema: { params: PartnerParams, querystring: ListQuery, response: { 200: ClientList, ...listErrors } } }, async (request) => {
    const { rows, ...page } = await tenants.pageClients(request.params.partner_id, request.query);
    const clients = rows.map(clientView);
    return { count: clients.length, filters: page.filters, sort: page.sort, limit: page.limit, offset: page.offset, total: page.total, clients };
  });

  // Every channel of the partner, whatever its client.
  app.get('/api/v2/partners/:partner_id/channels', { schema: { params: PartnerParams, querystring: ListQuery, response: { 200: ChannelList, ...listErrors } } }, async (request) => {
    const { rows, ...page } = await tenants.pageChannels(request.params.partner_id, null, request.query);
    const channels = rows.map(channelView);
    return { count: channels.length, filters: page.filters, sort: page.sort, limit: page.limit, offset: page.offset, total: page.total, partner_channels: channels };
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id', { schema: { params: ClientParams, response: { 200: ClientView, ...listErrors } } }, async (request) => {
    return clientView(await tenants.getClient(request.params.partner_id, request.params.client_id));
  });

  app.patch('/api/v2/partners/:partner_id/clients/:client_id', {
    schema: { params: ClientParams, body: ClientPatch, response: { 200: ClientView, ...errorResponses(400, 401, 404, 413, 415, 500) } },
    // Fields PATCH cannot change are refused by name (the validator would drop them silently).
    preValidation: refuseFieldsOutside(PATCHABLE),
  }, async (request) => {
    const p = request.params;
    return clientView(await tenants.updateClient(p.partner_id, p.client_id, request.body));
  });

  app.post('/api/v2/partners/:partner_id/clients/:client_id/channels', { schema: { params: ClientParams, body: NewChannel, response: { 201: CreatedChannel, ...errorResponses(400, 401, 404, 409, 413, 415, 500) } } }, async (request, reply) => {
    const { channel, replayed } = await tenants.createChannel(request.params.partner_id, request.params.client_id, request.body);
    return reply.code(201).send({ ...channelView(channel), replayed_statuses: replayed });
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels', { schema: { params: ClientParams, querystring: ListQuery, response: { 200: ChannelList, ...listErrors } } }, async (request) => {
    const { rows, ...page } = await tenants.pageChannels(request.params.partner_id, request.params.client_id, request.query);
    const channels = rows.map(channelView);
    return { count: channels.length, filters: page.filters, sort: page.sort, limit: page.limit, offset: page.offset, total: page.total, partner_channels: channels };
  });

  app.get('/api/v2/partners/:partner_id/clients/:client_id/channels/:channel_id', { schema: { params: ChannelParams, response: { 200: ChannelView, ...listErrors } } }, async (request) => {
    const p = request.params;
    return channelView(await tenants.getChannel(p.partner_id, p.client_id, p.channel_id));
  });
};
