/**
 * Channel API keys: 360dialog's `…/channels/{channel_id}/api_keys`, which here are not messaging
 * keys but read-only credentials for one channel's usage (a partner hands one to whoever should
 * see that channel's numbers and nothing else). Created, listed and revoked by the partner; the
 * scope itself is enforced where requests are authenticated (src/api/auth.ts).
 *
 * Like partner keys, a channel key is a random string shown once and stored as a SHA-256 hash
 * plus its last four characters.
 */
import { randomBytes } from 'node:crypto';
import { conflict, notFound } from '../errors.ts';
import { hashSecret, newId } from '../ids.ts';
import type { Executor } from '../store/meter-store.ts';
import type { Authenticated, Rejected } from './auth-service.ts';
import * as store from './auth-store.ts';

/** Told apart from partner keys (`wbm_`) by prefix, so it can be scoped before any lookup. */
export const CHANNEL_KEY_PREFIX = 'wbc_';
/** As for partner keys: enough for one key per consumer of the channel's usage, plus rotation. */
export const MAX_ACTIVE_CHANNEL_KEYS = 100;

export interface ChannelKeysDeps {
  db: Executor;
  nowIso: () => string;
}

export function createChannelKeys({ db, nowIso }: ChannelKeysDeps) {
  /** The channel when the partner holds it; another partner's channel is "not found", never "forbidden". */
  async function channelOf(partnerId: string, channelId: string) {
    const channel = await store.channelOfPartner(db, partnerId, channelId);
    if (!channel) throw notFound('Channel');
    return channel;
  }

  return {
    /** A new key for the channel; the secret is in this result only. */
    async create(partnerId: string, channelId: string, name: string | null) {
      const channel = await channelOf(partnerId, channelId);
      if ((await store.countActiveChannelKeys(db, channelId)) >= MAX_ACTIVE_CHANNEL_KEYS) {
        throw conflict(
          `A channel holds at most ${MAX_ACTIVE_CHANNEL_KEYS} active API keys: revoke one with DELETE /api/v2/partners/${partnerId}/channels/${channelId}/api_keys/{key_id}, or all of them with DELETE /api/v2/partners/${partnerId}/channels/${channelId}/api_keys`,
          [`GET /api/v2/partners/${partnerId}/channels/${channelId}/api_keys lists the keys with their ids`],
        );
      }
      const apiKey = `${CHANNEL_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
      const row = {
        id: newId('CK'), partner_id: partnerId, client_id: channel.client_id, channel_id: channelId, name,
        key_hash: hashSecret(apiKey), last4: apiKey.slice(-4), created_at: nowIso(), revoked_at: null,
      };
      await store.insertChannelKey(db, row);
      return { id: row.id, api_key: apiKey, app_id: channel.app_id, channel_id: channelId, client_id: channel.client_id, name, created_at: row.created_at };
    },

    /** Every key of the channel, revoked ones too, oldest first; never a secret or a hash. */
    async list(partnerId: string, channelId: string) {
      const channel = await channelOf(partnerId, channelId);
      const rows = await store.channelKeysOfChannel(db, channelId);
      return rows.map((k) => ({
        id: k.id, app_id: channel.app_id, channel_id: k.channel_id, client_id: k.client_id,
        name: k.name ?? null, created_at: k.created_at, revoked_at: k.revoked_at ?? null, last4: k.last4,
      }));
    },

    /** Revokes every active key of the channel; how many. */
    async revokeAll(partnerId: string, channelId: string): Promise<number> {
      await channelOf(partnerId, channelId);
      return store.revokeChannelKeys(db, channelId, nowIso());
    },

    /** Revokes one key of the channel: 1, or 0 when it was revoked before (repeating is harmless). */
    async revoke(partnerId: string, channelId: string, keyId: string): Promise<number> {
      await channelOf(partnerId, channelId);
      const revoked = await store.revokeChannelKey(db, channelId, keyId, nowIso());
      if (revoked === undefined) throw notFound('Channel API key');
      return revoked;
    },

    /** The partner, client and channel a channel key is scoped to, or why it is refused. */
    async check(key: string): Promise<Authenticated | Rejected> {
      const row = await store.channelKeyByHash(db, hashSecret(key));
      if (!row) return { rejected: 'unknown' };
      if (row.revoked_at != null) return { rejected: 'revoked' };
      return { partnerId: row.partner_id, keyId: row.id, clientId: row.client_id, channelId: row.channel_id };
    },
  };
}

export type ChannelKeys = ReturnType<typeof createChannelKeys>;
