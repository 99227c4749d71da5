/**
 * What this module asks of the meter, both optional until the meter provides them. They are read
 * from the meter's dependency object (`services.meter`, MeterDeps) at call time, so the meter
 * wires them by adding the members there; nothing here counts tiers or prices units itself.
 */
import type { Executor } from '../store/meter-store.ts';

/** One volume-tier accrual group: business portfolio (else the WABA) × market × category × month. */
export interface TierStatusQuery {
  /** The client's business_portfolio_id, else the WABA id. */
  portfolioOrWabaId: string;
  /** The meter's market name (markets.csv spelling), e.g. "India"; Meta's region when unrecognised. */
  market: string;
  /** Canonical category: "utility", "authentication", "authentication_international". */
  category: string;
  /** "YYYY-MM" (each WABA's own month). */
  month: string;
}

export interface TierStatus {
  /** Charged messages the meter accrued in the group. */
  count: number;
  /** The tier they reach, in Meta's "LOWER:UPPER" spelling. */
  tier: string;
}

export interface MeterAccountHooks {
  /** The meter's own tier for one accrual group; null when it has none. */
  tierStatus?(q: TierStatusQuery): Promise<TierStatus | null>;
  /**
   * Called inside the transaction that changed clients' business_portfolio_id or
   * auth_international_eligibility (API PATCH, an eligibility webhook, a channel claiming a WABA
   * with a stored eligibility), after the channel directory was reloaded: re-price what it covers.
   */
  pricingProfileChanged?(trx: Executor, clientIds: string[]): Promise<void>;
}

/** The hooks the meter object carries (structural: MeterDeps gains them when the meter wires them). */
export function meterHooks(meter: object): MeterAccountHooks {
  return meter as MeterAccountHooks;
}
