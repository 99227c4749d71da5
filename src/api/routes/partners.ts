/**
 * The partner's own record, as 360dialog's Partner API serves it to partner code:
 * `GET`/`PATCH /api/v2/partners/{partner_id}` and `GET`/`POST …/webhook_url`. The webhook URL
 * is where the partner wants notifications; it is the default destination of the meter's alerts.
 * Also the operator's view of refused phone-number registrations (`GET /admin/registration-conflicts`).
 */
import { Type } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../../services.ts';
import type { Partner } from '../../store/tenants-store.ts';
import { errorResponses, IsoDateTime, Nullable, PartnerParams, refuseFieldsOutside } from '../schemas.ts';

export function partnerView(p: Partner) {
  return {
    id: p.id,
    name: p.name,
    // 360dialog calls the partner's display name its brand name; here they are one field.
    brand_name: p.name,
    created_at: p.created_at,
    modified_at: p.modified_at ?? p.created_at,
    webhook_url: p.webhook_url ?? null,
    partner_redirect_url: p.partner_redirect_url ?? null,
    logo_url: p.logo_url ?? null,
  };
}

const NullableUrl = (description: string) => Nullable(Type.String({ format: 'uri' }), { description });
const PartnerView = Type.Object({
  id: Type.String({ description: 'Partner id (ends in PA)' }),
  name: Type.String(),
  brand_name: Type.String({ description: 'The same as name' }),
  created_at: IsoDateTime,
  modified_at: IsoDateTime,
  webhook_url: NullableUrl('Where the partner receives notifications; the default destination of alerts. null = none'),
  partner_redirect_url: NullableUrl("Where the partner's onboarding sends clients back (stored and returned)"),
  logo_url: NullableUrl("The partner's logo (stored and returned)"),
}, { description: "The partner's own record" });

// null = unchanged (typed clients send every property); "" clears a URL.
const UrlInput = (description: string) => Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'http-url-or-empty', maxLength: 2048, description: `${description}; an absolute http(s) URL, "" clears it, null leaves it unchanged` });
const PartnerPatch = Type.Object({
  name: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 200, description: 'null = unchanged' })),
  webhook_url: Type.Optional(UrlInput('Where the partner receives notifications')),
  partner_redirect_url: Type.Optional(UrlInput('Where onboarding sends clients back')),
  logo_url: Type.Optional(UrlInput("The partner's logo")),
}, { minProperties: 1 });
const PATCHABLE = Object.keys(PartnerPatch.properties);

const WebhookUrlBody = Type.Object({
  webhook_url: Type.String({ format: 'http-url-or-empty', maxLength: 2048, description: 'An absolute http(s) URL; "" removes it' }),
});
const WebhookUrlView = Type.Object({ webhook_url: NullableUrl('null = none') });

const RegistrationConflict = Type.Object({
  phone_number_id: Type.String(),
  partner_id: Type.String({ description: 'The partner that was refused' }),
  client_id: Type.String({ description: 'The client it tried to register the number for' }),
  holder_partner_id: Nullable(Type.String(), { description: 'The partner whose channel holds the number (null if that channel is gone)' }),
  holder_client_id: Nullable(Type.String()),
  holder_channel_id: Type.String(),
  attempts: Type.Integer({ minimum: 1 }),
  first_at: IsoDateTime,
  last_at: IsoDateTime,
});
const RegistrationConflictList = Type.Object({ count: Type.Integer(), conflicts: Type.Array(RegistrationConflict) });

export const partnerRoutes = (services: Services): FastifyPluginAsync => async (root) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { tenants } = services;

  app.get('/api/v2/partners/:partner_id', {
    schema: { summary: "The partner's own record", params: PartnerParams, response: { 200: PartnerView, ...errorResponses(400, 401, 404, 500) } },
  }, async (request) => partnerView(await tenants.getPartner(request.params.partner_id)));

  app.patch('/api/v2/partners/:partner_id', {
    schema: { summary: "Changes the partner's name or URLs", params: PartnerParams, body: PartnerPatch, response: { 200: PartnerView, ...errorResponses(400, 401, 404, 413, 415, 500) } },
    preValidation: refuseFieldsOutside(PATCHABLE),
  }, async (request) => partnerView(await tenants.updatePartner(request.params.partner_id, request.body)));

  app.get('/api/v2/partners/:partner_id/webhook_url', {
    schema: { summary: "The partner's webhook URL", params: PartnerParams, response: { 200: WebhookUrlView, ...errorResponses(400, 401, 404, 500) } },
  }, async (request) => ({ webhook_url: (await tenants.getPartner(request.params.partner_id)).webhook_url ?? null }));

  // Answers the whole record, as 360dialog does (a typed client reads webhook_url and the partner's fields from it).
  app.post('/api/v2/partners/:partner_id/webhook_url', {
    schema: { summary: "Sets the partner's webhook URL", params: PartnerParams, body: WebhookUrlBody, response: { 200: PartnerView, ...errorResponses(400, 401, 404, 413, 415, 500) } },
  }, async (request) => partnerView(await tenants.updatePartner(request.params.partner_id, { webhook_url: request.body.webhook_url })));

  app.get('/admin/registration-conflicts', {
    schema: { summary: 'Refused registrations of phone numbers that another partner holds', response: { 200: RegistrationConflictList, ...errorResponses(401, 500) } },
  }, async () => {
    const conflicts = await tenants.registrationConflicts();
    return { count: conflicts.length, conflicts: conflicts.map((c) => ({ ...c, holder_partner_id: c.holder_partner_id ?? null, holder_client_id: c.holder_client_id ?? null })) };
  });
};
