/**
 * Partners, clients and channels: creation rules and the side effects that matter to the meter —
 * a channel claiming a phone number whose statuses arrived before it was registered, and a
 * client's pricing profile (business portfolio, auth-international eligibility) changing.
 */
import type { Updateable } from 'kysely';
import { latestEligibilityUpdate } from '../accounts/accounts-store.ts';
import { meterHooks } from '../accounts/meter-hooks.ts';
import { duplicateExceptionCountries, parseEligibility, serializeEligibility, type AuthInternationalEligibility } from '../billing/auth-international.ts';
import { assertTimeZone } from '../billing/calendar.ts';
import { AppError, badRequest, conflict, notFound } from '../errors.ts';
import { hashSecret, newApiKey, newId } from '../ids.ts';
import type { ChannelDirectory } from '../meter/channel-directory.ts';
import type { IngestQueue } from '../meter/ingest.ts';
import { enqueueReplay } from '../meter/jobs.ts';
import type { MeterDeps } from '../meter/meter.ts';
import { isUniqueViolation, type Store } from '../store/database.ts';
import type { ClientsTable, PartnersTable } from '../store/schema.ts';
import * as tenants from '../store/tenants-store.ts';
import { DEFAULT_MAX_CHANNELS, mergeContactInfo, optionalText, type ContactInfoPatch } from './client-attributes.ts';
import { CHANNEL_ACCOUNT_MODE, CHANNEL_STATUS, CLIENT_STATUS, FB_ACCOUNT_STATUS } from './derived-fields.ts';
import { parseFilters, parseSort, type ParamError } from './list-query.ts';

export interface TenantsDeps {
  store: Store;
  queue: IngestQueue;
  channels: ChannelDirectory;
  meter: MeterDeps;
  now?: () => Date;
}

export interface NewClient {
  name: string;
  currency: string;
  country: string;
  payment_mode: 'direct' | 'partner';
  timezone?: string;
  business_portfolio_id?: string | null;
  auth_international_eligibility?: AuthInternationalEligibility | null;
  organisation?: string | null;
  contact_info?: ContactInfoPatch | null;
  partner_payload?: string | null;
  max_channels?: number | null;
}

/** What pricing needs to know about a client beyond its currency. */
export interface PricingProfile {
  clientId: string;
  /** ISO alpha-2: the business location for authentication-international. */
  country: string;
  /** Volume tiers accrue per portfolio when set, else per WABA. */
  businessPortfolioId: string | null;
  /** Decoded auth_international_eligibility; null = not eligible. */
  authInternationalEligibility: Required<AuthInternationalEligibility> | null;
}

/**
 * PATCH: only the fields present change. For wabameter's own fields (business portfolio,
 * eligibility) null clears; for 360dialog's (name, organisation, contact_info, partner_payload,
 * max_channels) null means unchanged (see client-attributes.ts).
 */
export interface ClientPatch {
  name?: string | null;
  business_portfolio_id?: string | null;
  auth_international_eligibility?: AuthInternationalEligibility | null;
  organisation?: string | null;
  contact_info?: ContactInfoPatch | null;
  partner_payload?: string | null;
  max_channels?: number | null;
}

/** PATCH of the partner's own record: null = unchanged, "" clears a URL. */
export interface PartnerPatch {
  name?: string | null;
  webhook_url?: string | null;
  partner_redirect_url?: string | null;
  logo_url?: string | null;
}

export interface NewChannel {
  phone_number: string;
  phone_number_id: string;
  waba_id: string;
  app_id: string;
  timezone?: string;
}

/** A list request as received (query parameters of `GET …/clients` and `…/channels`). */
export interface ListRequest {
  limit?: number;
  offset?: number;
  sort?: string | string[];
  filters?: string;
}

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
const DEFAULT_SORT = ['created_at'];
/** Filter keys whose value is the same constant on every row (src/tenants/derived-fields.ts). */
const CLIENT_DERIVED = { status: CLIENT_STATUS };
const CHANNEL_DERIVED = { status: CHANNEL_STATUS, account_mode: CHANNEL_ACCOUNT_MODE, 'waba_account.fb_account_status': FB_ACCOUNT_STATUS };

/** The parts of a list response that echo the request. */
export interface ListEcho {
  filters: Record<string, unknown>;
  sort: string[];
  limit: number;
  offset: number;
}

function listQuery<K extends string, S extends string>(req: ListRequest, filterKeys: readonly K[], sortFields: Readonly<Record<string, S>>) {
  const sort = parseSort(req.sort, sortFields, DEFAULT_SORT);
  const filters = parseFilters(req.filters, filterKeys);
  const errors: ParamError[] = [...sort.errors, ...filters.errors];
  if (errors.length > 0) {
    throw badRequest('The request has invalid parameters', errors.map((e) => `${e.field}: ${e.message}`), 'invalid_parameter');
  }
  const echo: ListEcho = { filters: filters.echo, sort: sort.echo, limit: req.limit ?? DEFAULT_LIST_LIMIT, offset: req.offset ?? 0 };
  return { echo, filters: filters.terms, sort: sort.terms };
}

/** The stored JSON of an eligibility, refusing one that lists a country twice. */
function eligibilityText(e: AuthInternationalEligibility | null | undefined): string | null {
  if (e == null) return null;
  const dup = duplicateExceptionCountries(e);
  if (dup.length > 0) {
    throw badRequest('auth_international_eligibility lists a country more than once', dup.map((c) => `auth_international_eligibility.exception_countries: ${c} is listed more than once`), 'invalid_parameter');
  }
  return serializeEligibility(e);
}

function validTimeZone(tz: string, field: string): string {
  try {
    return assertTimeZone(tz);
  } catch {
    throw badRequest(`Unknown time zone "${tz}"`, [`${field}: must be an IANA time zone such as "UTC" or "Europe/Berlin"`], 'invalid_parameter');
  }
}

export function createTenantsService(deps: TenantsDeps) {
  const db = deps.store.db;
  const nowIso = () => (deps.now?.() ?? new Date()).toISOString();
  const nowSeconds = () => Math.floor((deps.now?.() ?? new Date()).getTime() / 1000);

  /**
   * The error for a phone number id some channel already holds. The partner's own channel is
   * named; another partner's is not even said to exist (the message is the same whatever the
   * reason the number is unavailable), and the attempt is recorded for the operator
   * (`GET /admin/registration-conflicts`), who can tell the two partners apart.
   */
  async function refuseHeldNumber(holder: tenants.Channel, partnerId: string, clientId: string, phoneNumberId: string) {
    if (holder.partner_id === partnerId) {
      return conflict(`Phone number id ${phoneNumberId} is already registered to your channel ${holder.id} (client ${holder.client_id})`, ['phone_number_id: each WhatsApp phone number belongs to one channel']);
    }
    await tenants.recordRegistrationConflict(deps.store.db, { phone_number_id: phoneNumberId, partner_id: partnerId, client_id: clientId, holder_channel_id: holder.id, at: nowIso() });
    return new AppError(409, 'phone_number_unavailable', `Phone number id ${phoneNumberId} cannot be registered`,
      ['phone_number_id: this number is not available for registration; if it is yours, contact the operator of this service']);
  }

  const pageOptions = (echo: ListEcho) => ({ limit: echo.limit, offset: echo.offset, dialect: deps.store.dialect, defaultMaxChannels: DEFAULT_MAX_CHANNELS });

  return {
    async getPartner(partnerId: string) {
      const p = await tenants.partnerById(db, partnerId);
      if (!p) throw notFound('Partner');
      return p;
    },

    async updatePartner(partnerId: string, patch: PartnerPatch) {
      await this.getPartner(partnerId);
      const set: Updateable<PartnersTable> = {};
      if (patch.name != null) set.name = patch.name;
      for (const field of ['webhook_url', 'partner_redirect_url', 'logo_url'] as const) {
        if (patch[field] != null) set[field] = optionalText(patch[field]);
      }
      if (Object.keys(set).length > 0) await tenants.updatePartner(db, partnerId, { ...set, modified_at: nowIso() });
      return this.getPartner(partnerId);
    },

    /** Refused registrations of numbers other partners hold (for the operator). */
    registrationConflicts: () => tenants.registrationConflicts(db),

    async createPartner(name: string, keyName = 'default') {
      const id = newId('PA');
      const apiKey = newApiKey();
      const createdAt = nowIso();
      await db.transaction().execute(async (trx) => {
        await tenants.insertPartner(trx, { id, name, created_at: createdAt });
        await tenants.insertApiKey(trx, { id: newId('AK'), partner_id: id, name: keyName, key_hash: hashSecret(apiKey), created_at: createdAt, revoked_at: null });
      });
      return { id, name, api_key: apiKey };
    },


    async createClient(partnerId: string, input: NewClient) {
      const currency = input.currency.toUpperCase();
      const country = input.country.toUpperCase();
      const client = {
        id: newId('CL'),
        partner_id: partnerId,
        name: input.name,
        currency,
        country,
        payment_mode: input.payment_mode,
        timezone: validTimeZone(input.timezone ?? 'UTC', 'timezone'),
        created_at: nowIso(),
        business_portfolio_id: input.business_portfolio_id ?? null,
        auth_international_eligibility: eligibilityText(input.auth_international_eligibility),
        organisation: optionalText(input.organisation),
        contact_info: input.contact_info == null ? null : mergeContactInfo(null, input.contact_info),
        partner_payload: optionalText(input.partner_payload),
        max_channels: input.max_channels ?? null,
        modified_at: null,
      };
      await tenants.insertClient(db, client);
      return client;
    },

    /**
     * Partial update of a client. A change of business_portfolio_id or
     * auth_international_eligibility reloads the channel directory and tells the meter
     * (pricingProfileChanged: a re-metering job) in the same transaction.
     */
    async updateClient(partnerId: string, clientId: string, patch: ClientPatch) {
      const before = await this.getClient(partnerId, clientId);
      const set: Updateable<ClientsTable> = {};
      if (patch.name != null) set.name = patch.name;
      if (patch.organisation != null) set.organisation = optionalText(patch.organisation);
      if (patch.partner_payload != null) set.partner_payload = optionalText(patch.partner_payload);
      if (patch.max_channels != null) set.max_channels = patch.max_channels;
      if (patch.contact_info != null) set.contact_info = mergeContactInfo(before.contact_info, patch.contact_info);
      if (patch.business_portfolio_id !== undefined) set.business_portfolio_id = patch.business_portfolio_id;
      if (patch.auth_international_eligibility !== undefined) set.auth_international_eligibility = eligibilityText(patch.auth_international_eligibility);
      const pricingChanged = (set.business_portfolio_id !== undefined && set.business_portfolio_id !== before.business_portfolio_id)
        || (set.auth_international_eligibility !== undefined && set.auth_international_eligibility !== before.auth_international_eligibility);
      if (Object.keys(set).length > 0) {
        set.modified_at = nowIso();
        if (!pricingChanged) {
          await tenants.updateClient(db, partnerId, clientId, set);
        } else {
          await deps.queue.exclusive(async (trx) => {
            if (!(await tenants.updateClient(trx, partnerId, clientId, set))) throw notFound('Client');
            await deps.channels.changed(trx);
            await meterHooks(deps.meter).pricingProfileChanged?.(trx, [clientId]);
          }).catch(async (err) => {
            await deps.channels.load(db).catch(() => undefined);
            throw err;
          });
          // Re-metering runs as a job beside ingestion; this client's reads wait for it.
          deps.queue.kickJobs();
        }
      }
      return this.getClient(partnerId, clientId);
    },


    /**
     * One page of a partner's clients: `sort`, `filters`, `limit`, `offset` as the Partner API
     * takes them (src/tenants/list-query.ts), applied in SQL. Bad sort fields or filter keys → 400.
     */
    async pageClients(partnerId: string, req: ListRequest) {
      const q = listQuery(req, tenants.CLIENT_FILTER_KEYS, tenants.CLIENT_SORT_FIELDS);
      const page = await tenants.clientsPage(db, partnerId, { ...q, ...pageOptions(q.echo), derived: CLIENT_DERIVED });
      return { ...q.echo, total: page.total, rows: page.rows };
    },

    /** One page of a partner's channels: of one client (404 if it is not the partner's), or all of them when clientId is null. */
    async pageChannels(partnerId: string, clientId: string | null, req: ListRequest) {
      const q = listQuery(req, tenants.CHANNEL_FILTER_KEYS, tenants.CHANNEL_SORT_FIELDS);
      if (clientId != null) await this.getClient(partnerId, clientId);
      const page = await tenants.channelsPage(db, partnerId, clientId, { ...q, ...pageOptions(q.echo), derived: CHANNEL_DERIVED });
      return { ...q.echo, total: page.total, rows: page.rows };
    },

    /** A client's pricing profile (any partner's: for the meter, not for the API); undefined if unknown. */
    async getPricingProfile(clientId: string): Promise<PricingProfile | undefined> {
      const c = await tenants.clientById(db, clientId);
      if (!c) return undefined;
      return {
        clientId: c.id,
        country: c.country,
        businessPortfolioId: c.business_portfolio_id ?? null,
        authInternationalEligibility: parseEligibility(c.auth_international_eligibility),
      };
    },

    async getClient(partnerId: string, clientId: string) {
      const c = await tenants.clientOfPartner(db, partnerId, clientId);
      if (!c) throw notFound('Client');
      return c;
    },

    async listChannels(partnerId: string, clientId: string) {
      await this.getClient(partnerId, clientId);
      return tenants.channelsOfClient(db, partnerId, clientId);
    },

    /**
     * Registers a channel; the statuses its phone number already has in the log are metered by a
     * replay job beside ingestion (recorded in the same transaction; the client's reads wait for it).
     */
    async createChannel(partnerId: string, clientId: string, input: NewChannel) {
      const client = await this.getClient(partnerId, clientId);
      const channel = {
        id: newId('CH'),
        partner_id: partnerId,
        client_id: clientId,
        phone_number: input.phone_number,
        phone_number_id: input.phone_number_id,
        waba_id: input.waba_id,
        app_id: input.app_id,
        timezone: validTimeZone(input.timezone ?? client.timezone, 'timezone'),
        created_at: nowIso(),
      };
      const holderCheck = async () => {
        const holder = await tenants.channelByPhoneNumberId(db, channel.phone_number_id);
        return holder ? refuseHeldNumber(holder, partnerId, clientId, channel.phone_number_id) : undefined;
      };
      const held = await holderCheck();
      if (held) throw held;
      const limit = client.max_channels ?? DEFAULT_MAX_CHANNELS;
      const replayed = await deps.queue.exclusive(async (trx) => {
        const count = await tenants.countChannelsOfClient(trx, clientId);
        if (count >= limit) {
          throw conflict(`Client ${clientId} already has ${count} channels, its max_channels`, [`max_channels: ${limit}; raise it with PATCH /api/v2/partners/{partner_id}/clients/${clientId} {"max_channels"}`]);
        }
        await tenants.insertChannel(trx, channel);
        // The meter must see the channel while replaying; if the transaction fails, it never existed.
        await deps.channels.changed(trx);
        // An eligibility Meta announced for this WABA before anyone claimed it becomes the
        // client's, unless the client already has one (set through the API or by another WABA).
        if (client.auth_international_eligibility == null) {
          const stored = await latestEligibilityUpdate(trx, channel.waba_id);
          if (stored) {
            const text = serializeEligibility({ start_time: Number(stored.start_time), exception_countries: JSON.parse(stored.exception_countries) });
            await tenants.setClientsEligibility(trx, [clientId], text);
            await deps.channels.changed(trx);
            await meterHooks(deps.meter).pricingProfileChanged?.(trx, [clientId]);
          }
        }
        return enqueueReplay(trx, channel.phone_number_id, clientId, await deps.queue.meterCursor(trx), nowSeconds());
      }).catch(async (err) => {
        // Back to what is committed.
        await deps.channels.load(db).catch(() => undefined);
        // A registration that lost a race for the number: refused the same way.
        throw (isUniqueViolation(err) && (await holderCheck())) || err;
      });
      deps.queue.kickJobs();
      const withClient: tenants.ChannelWithClient = { ...channel, client_name: client.name, client_partner_payload: client.partner_payload, client_contact_info: client.contact_info };
      return { channel: withClient, replayed };
    },

    async getChannel(partnerId: string, clientId: string, channelId: string) {
      await this.getClient(partnerId, clientId);
      const ch = await tenants.channelOfClient(db, partnerId, clientId, channelId);
      if (!ch) throw notFound('Channel');
      return ch;
    },
  };
}

export type TenantsService = ReturnType<typeof createTenantsService>;
