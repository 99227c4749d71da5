/**
 * String formats the request schemas use, so every bad field of a request is named in one 400
 * (a time zone checked after validation would be reported alone, on a second try).
 */
import { isSupportedCountry } from 'libphonenumber-js/min';
import { assertTimeZone } from '../billing/calendar.ts';

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export const FORMATS: Record<string, (value: string) => boolean> = {
  'iana-time-zone': (v) => {
    try {
      assertTimeZone(v);
      return true;
    } catch {
      return false;
    }
  },
  'country-code': (v) => /^[A-Za-z]{2}$/.test(v) && isSupportedCountry(v.toUpperCase() as never),
  'currency-code': (v) => /^[A-Za-z]{3}$/.test(v) && CURRENCIES.has(v.toUpperCase()),
};
