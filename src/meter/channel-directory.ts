/**
 * Which phone numbers the meter counts, and in which time zone and currency: the registered
 * channels, kept in memory because every webhook status asks.
 */
import { parseEligibility } from '../billing/auth-international.ts';
import { allChannelContexts } from '../store/tenants-store.ts';
import type { Executor } from '../store/meter-store.ts';
import type { ChannelContext } from './meter.ts';

export class ChannelDirectory {
  private byPhone = new Map<string, ChannelContext>();

  async load(db: Executor): Promise<void> {
    const rows = await allChannelContexts(db);
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

  phonesOfClients(clientIds: readonly string[]): string[] {
    const wanted = new Set(clientIds);
    return [...this.byPhone.values()].filter((c) => wanted.has(c.clientId)).map((c) => c.phoneNumberId);
  }

  get(phoneNumberId: string): ChannelContext | undefined {
    return this.byPhone.get(phoneNumberId);
  }

}
