/**
 * Partners, clients and channels: creation rules and the one side effect that matters to the
 * meter — a channel claiming a phone number whose statuses arrived before it was registered.
 */
import { assertTimeZone } from '../billing/calendar.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { hashSecret, newApiKey, newId } from '../ids.ts';
import type { ChannelDirectory } from '../meter/channel-directory.ts';
import { replayPhone, type IngestQueue } from '../meter/ingest.ts';
import type { MeterDeps } from '../meter/meter.ts';
import { isUniqueViolation, type Store } from '../store/database.ts';
import * as tenants from '../store/tenants-store.ts';

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
}

export interface NewChannel {
  phone_number: string;
  phone_number_id: string;
  waba_id: string;
  app_id: string;
  timezone?: string;
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

  return {
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

    /** The partner an API key belongs to, or undefined for an unknown or revoked key. */
    partnerOfApiKey(apiKey: string) {
      return tenants.partnerOfKeyHash(db, hashSecret(apiKey));
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
      };
      await tenants.insertClient(db, client);
      return client;
    },

    listClients: (partnerId: string) => tenants.clientsOfPartner(db, partnerId),

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
     * Registers a channel and meters every status its phone number already has in the log, in
     * one transaction that no webhook flush overlaps.
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
      const alreadyRegistered = () => conflict(`Phone number id ${channel.phone_number_id} is already registered`, ['phone_number_id: each WhatsApp phone number belongs to one channel']);
      if (await tenants.channelByPhoneNumberId(db, channel.phone_number_id)) throw alreadyRegistered();
      let claimed = false;
      const replayed = await deps.queue.exclusive(async (trx) => {
        await tenants.insertChannel(trx, channel);
        // The meter must see the channel while replaying; if the transaction fails, it never existed.
        deps.channels.set({ phoneNumberId: channel.phone_number_id, wabaId: channel.waba_id, timeZone: channel.timezone, currency: client.currency });
        claimed = true;
        return replayPhone(trx, channel.phone_number_id, deps.meter);
      }).catch((err) => {
        if (claimed) deps.channels.delete(channel.phone_number_id);
        throw isUniqueViolation(err) ? alreadyRegistered() : err;
      });
      return { channel, replayed };
    },

    async getChannel(partnerId: string, clientId: string, channelId: string) {
      const list = await this.listChannels(partnerId, clientId);
      const ch = list.find((c) => c.id === channelId);
      if (!ch) throw notFound('Channel');
      return ch;
    },
  };
}

export type TenantsService = ReturnType<typeof createTenantsService>;
