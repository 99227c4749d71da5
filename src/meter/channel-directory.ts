/**
 * Which phone numbers the meter counts, and in which time zone and currency: the registered
 * channels, kept in memory because every webhook status asks. Several processes may share the
 * store: whoever changes channels calls `changed` in the same transaction, and every metering
 * transaction calls `refresh` first, so a channel registered through one process is metered by
 * all of them at once.
 */
import { parseEligibility } from '../billing/auth-international.ts';
import { bumpVersion, getMeta, VERSION_KEYS } from '../store/meta-store.ts';
import { allChannelContexts } from '../store/tenants-store.ts';
import type { Executor } from '../store/meter-store.ts';
import type { ChannelContext } from './meter.ts';

export class ChannelDirectory {
  private byPhone = new Map<string, ChannelContext>();
  /** The version token the loaded channels belong to. */
  private version: string | null | undefined;

  /** Reloads every channel (after a failed change: back to what is committed). */
  async load(db: Executor): Promise<void> {
    // The token first: a change committed between the two reads is loaded again next time.
    const version = await getMeta(db, VERSION_KEYS.channels);
    const rows = await allChannelContexts(db);
    this.version = version;
    this.byPhone = new Map(rows.map((r) => [r.phone_number_id, {
      phoneNumberId: r.phone_number_id,
      wabaId: r.waba_id,
      timeZone: r.timezone,
      currency: r.currency,
      // WABAs of one business portfolio share volume tiers.
      tierAccount: r.business_portfolio_id ?? r.waba_id,
      clientId: r.client_id,
      businessCountry: r.country,
      authInternational: parseEligibility(r.auth_international_eligibility),
    }]));
  }

  /** Reloads when another process (or transaction) changed the channels since the last load. */
  async refresh(db: Executor): Promise<void> {
    if ((await getMeta(db, VERSION_KEYS.channels)) !== this.version) await this.load(db);
  }

  /** Channels or their clients' pricing changed in `trx`: tell every process, and reload. */
  async changed(trx: Executor): Promise<void> {
    await bumpVersion(trx, VERSION_KEYS.channels);
    await this.load(trx);
  }

  phonesOfClients(clientIds: readonly string[]): string[] {
    const wanted = new Set(clientIds);
    return [...this.byPhone.values()].filter((c) => wanted.has(c.clientId)).map((c) => c.phoneNumberId);
  }

  get(phoneNumberId: string): ChannelContext | undefined {
    return this.byPhone.get(phoneNumberId);
  }

}
