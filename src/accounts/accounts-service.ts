/**
 * `account_update` webhooks kept and put to use: volume-tier announcements are stored and compared
 * with the meter's own tiers; an authentication-international eligibility update is stored and
 * becomes the eligibility of every client with a channel under that WABA.
 *
 * Rules:
 * - Everything is stored whether or not a channel claims the WABA yet; a channel registered later
 *   sees the tiers announced before it, and takes the WABA's latest eligibility if its client has
 *   none (tenants-service createChannel).
 * - Retries are dropped: tier announcements identical in every field, eligibility updates with the
 *   same WABA, start times and entry time. Differing tier announcements are all kept (see
 *   volume-tiers.ts for which one is official).
 * - Eligibility: the update received last wins (also over a value set through the API before it;
 *   a PATCH after it wins in turn). A retry of an older update changes nothing.
 * - Writes run in the ingest queue's exclusive transaction, so the meter never sees a half-applied
 *   change, and the webhook is answered only after they are committed.
 */
import { createHash } from 'node:crypto';
import { serializeEligibility } from '../billing/auth-international.ts';
import type { AccountUpdate } from '../ingest/account-update.ts';
import type { ChannelDirectory } from '../meter/channel-directory.ts';
import type { IngestQueue } from '../meter/ingest.ts';
import type { Store } from '../store/database.ts';
import type { Channel, Client } from '../store/tenants-store.ts';
import { clientIdsOfWaba, setClientsEligibility } from '../store/tenants-store.ts';
import { insertEligibilityUpdate, insertVolumeTierUpdate, volumeTierUpdatesOf } from './accounts-store.ts';
import { meterHooks, type TierStatus, type TierStatusQuery } from './meter-hooks.ts';
import { metaTiers, tierDifference, type MetaTier } from './volume-tiers.ts';

export interface AccountsDeps {
  store: Store;
  queue: IngestQueue;
  channels: ChannelDirectory;
  /** The meter's dependency object; may carry tierStatus / pricingProfileChanged (meter-hooks.ts). */
  meter: object;
  now?: () => number;
}

export interface AccountUpdatesOutcome {
  /** Updates newly stored. */
  stored: number;
  /** Updates already held (Meta's retries). */
  duplicates: number;
  /** Clients whose auth_international_eligibility was set by these updates. */
  clientsUpdated: string[];
}

export interface TierComparison extends MetaTier {
  /** The accrual group the meter was asked about: the client's business portfolio, else the WABA. */
  portfolio_or_waba_id: string;
  computed_tier: string | null;
  computed_count: number | null;
  difference: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 27);

export function createAccountsService(deps: AccountsDeps) {
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const hooks = meterHooks(deps.meter);

  return {
    /** Stores the updates durably (resolves after the commit) and applies eligibility updates. */
    async record(updates: AccountUpdate[]): Promise<AccountUpdatesOutcome> {
      if (updates.length === 0) return { stored: 0, duplicates: 0, clientsUpdated: [] };
      const receivedAt = now();
      let directoryTouched = false;
      try {
        return await deps.queue.exclusive(async (trx) => {
          let stored = 0;
          const changed = new Set<string>();
          for (const u of updates) {
            let fresh: boolean;
            if (u.event === 'VOLUME_BASED_PRICING_TIER_UPDATE') {
              fresh = await insertVolumeTierUpdate(trx, {
                waba_id: u.wabaId,
                pricing_category: u.pricingCategory,
                tier: u.tier,
                effective_month: u.effectiveMonth,
                region: u.region,
                tier_update_time: u.tierUpdateTime,
                received_at: receivedAt,
              });
            } else {
              const exceptions = JSON.stringify(u.eligibility.exception_countries);
              fresh = await insertEligibilityUpdate(trx, {
                dedup_key: digest(JSON.stringify([u.wabaId, u.eligibility.start_time, exceptions, u.eventTime])),
                waba_id: u.wabaId,
                start_time: u.eligibility.start_time,
                exception_countries: exceptions,
                event_time: u.eventTime,
                received_at: receivedAt,
              });
              if (fresh) {
                const clientIds = await clientIdsOfWaba(trx, u.wabaId);
                await setClientsEligibility(trx, clientIds, serializeEligibility(u.eligibility));
                for (const id of clientIds) changed.add(id);
              }
            }
            if (fresh) stored++;
          }
          if (changed.size > 0) {
            directoryTouched = true;
            await deps.channels.changed(trx);
            await hooks.pricingProfileChanged?.(trx, [...changed].sort());
          }
          return { stored, duplicates: updates.length - stored, clientsUpdated: [...changed].sort() };
        }).finally(() => deps.queue.kickJobs());
      } catch (err) {
        // The directory was loaded from a transaction that did not commit: load what is stored.
        if (directoryTouched) await deps.channels.load(deps.store.db).catch(() => undefined);
        throw err;
      }
    },

    /**
     * Meta's tier for each WABA × category × month × region announced for the client's WABAs
     * (one month's when `month` is given), next to the meter's own tier when the meter provides
     * `tierStatus`.
     */
    async tiers(client: Client, channels: Channel[], month?: string): Promise<TierComparison[]> {
      const wabaIds = [...new Set(channels.map((c) => c.waba_id))];
      const announced = metaTiers(await volumeTierUpdatesOf(deps.store.db, wabaIds, month));
      // WABAs of one portfolio share a group: ask once per group.
      const asked = new Map<string, Promise<TierStatus | null>>();
      const out: TierComparison[] = [];
      for (const m of announced) {
        const q: TierStatusQuery = {
          portfolioOrWabaId: client.business_portfolio_id ?? m.waba_id,
          market: m.market ?? m.region,
          category: m.pricing_category,
          month: m.effective_month,
        };
        let computed: TierStatus | null = null;
        if (typeof hooks.tierStatus === 'function') {
          const key = JSON.stringify([q.portfolioOrWabaId, q.market, q.category, q.month]);
          let p = asked.get(key);
          if (!p) asked.set(key, (p = hooks.tierStatus(q)));
          computed = await p;
        }
        out.push({
          ...m,
          portfolio_or_waba_id: q.portfolioOrWabaId,
          computed_tier: computed?.tier ?? null,
          computed_count: computed?.count ?? null,
          difference: tierDifference(m.meta_tier, computed?.tier ?? null),
        });
      }
      return out;
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
