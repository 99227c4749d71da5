/**
 * Which phone numbers the meter counts, and in which time zone and currency: the registered
 * channels, kept in memory because every webhook status asks.
 */
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
      tierAccount: r.waba_id,
    }]));
  }

  get(phoneNumberId: string): ChannelContext | undefined {
    return this.byPhone.get(phoneNumberId);
  }

  set(ctx: ChannelContext): void {
    this.byPhone.set(ctx.phoneNumberId, ctx);
  }

  delete(phoneNumberId: string): void {
    this.byPhone.delete(phoneNumberId);
  }
}
