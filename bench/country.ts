/**
 * Recipient number → country: `countryOfNumber` (prefix cache) beside the full, uncached
 * libphonenumber parse (`resolveCountryUncached`) in the same run, on 200,000 distinct realistic
 * WhatsApp recipient ids from 10 countries (DE GB IN BR US ID ES IT NG AE).
 *
 * - uncached: the full parse of each number (what a miss of a per-number cache costs);
 * - prefix cache, cold: `countryOfNumber` over the same numbers from an empty cache;
 * - prefix cache, warm: over another 200,000 distinct numbers, after the first set.
 *
 * Run: npx tsx bench/country.ts [runs]   (median of the runs, µs per number)
 */
import {
  clearCountryCache,
  countryCacheStats,
  countryOfNumber,
  resolveCountryUncached,
} from '../src/billing/markets.ts';

const COUNT = 200_000;
const runs = Math.max(1, Number(process.argv[2] ?? 5));

// Deterministic numbers (mulberry32).
let seed = 20260315;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
const digits = (n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(random() * 10);
  return s;
};
const oneOf = (set: string): string => set[Math.floor(random() * set.length)];

// Calling code + plausible national numbers (mostly mobiles, some landlines), weighted roughly
// like WhatsApp Business traffic.
const COUNTRIES: Array<{ weight: number; make: () => string }> = [
  { weight: 25, make: () => `91${oneOf('6789')}${digits(9)}` }, // IN mobiles
  { weight: 15, make: () => `55${pick(['11', '21', '31', '41', '47', '51', '61', '71', '81', '85', '92'])}${random() < 0.85 ? `9${digits(8)}` : `${oneOf('2345')}${digits(7)}`}` }, // BR
  { weight: 12, make: () => `62${random() < 0.9 ? `8${oneOf('1235789')}${digits(7 + Math.floor(random() * 3))}` : `21${digits(8)}`}` }, // ID
  { weight: 8, make: () => `1${pick(['201', '202', '212', '213', '305', '310', '312', '404', '415', '469', '512', '617', '646', '702', '713', '718', '786', '818', '917', '972'])}${oneOf('23456789')}${digits(6)}` }, // US
  { weight: 8, make: () => `49${random() < 0.7 ? `1${pick(['51', '52', '57', '59', '60', '62', '63', '70', '71', '72', '73', '74', '75', '76', '77', '78', '79'])}${digits(7 + Math.floor(random() * 2))}` : `${pick(['30', '40', '89', '69', '221'])}${digits(7)}`}` }, // DE
  { weight: 8, make: () => `44${random() < 0.8 ? `7${oneOf('456789')}${digits(8)}` : ((area) => `${area}${digits(10 - area.length)}`)(pick(['20', '161', '121', '131']))}` }, // GB
  { weight: 6, make: () => `34${oneOf('67')}${digits(8)}` }, // ES
  { weight: 7, make: () => `39${random() < 0.85 ? `3${oneOf('234567')}${digits(8)}` : `0${oneOf('26')}${digits(8)}`}` }, // IT
  { weight: 6, make: () => `234${pick(['803', '806', '810', '813', '816', '703', '706', '708', '802', '808', '812', '902', '905', '906'])}${digits(7)}` }, // NG
  { weight: 5, make: () => `971${random() < 0.85 ? `5${oneOf('024568')}${digits(7)}` : `4${digits(7)}`}` }, // AE
];
const totalWeight = COUNTRIES.reduce((s, c) => s + c.weight, 0);

function numbers(count: number, exclude: Set<string>): string[] {
  const out = new Set<string>();
  while (out.size < count) {
    let r = random() * totalWeight;
    let country = COUNTRIES[0];
    for (const c of COUNTRIES) {
      if ((r -= c.weight) < 0) {
        country = c;
        break;
      }
    }
    const n = country.make();
    if (!exclude.has(n)) out.add(n);
  }
  return [...out];
}

function time(fn: (n: string) => unknown, list: readonly string[]): number {
  const t = performance.now();
  for (const n of list) fn(n);
  return ((performance.now() - t) * 1000) / list.length; // µs per number
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const first = numbers(COUNT, new Set());
const second = numbers(COUNT, new Set(first));
const warmUp = numbers(5_000, new Set([...first, ...second]));

// Same answers (checked outside the timings).
clearCountryCache();
let differences = 0;
let unknown = 0;
for (const n of [...first, ...second]) {
  const a = countryOfNumber(n);
  if (a !== resolveCountryUncached(n)) differences++;
  if (a === null) unknown++;
}
if (differences > 0) throw new Error(`country bench: ${differences} numbers resolve differently`);

for (const n of warmUp) {
  resolveCountryUncached(n);
  countryOfNumber(n);
}

const uncached: number[] = [];
const cold: number[] = [];
const warm: number[] = [];
let stats = countryCacheStats();
for (let i = 0; i < runs; i++) {
  uncached.push(time(resolveCountryUncached, first));
  clearCountryCache();
  cold.push(time(countryOfNumber, first));
  warm.push(time(countryOfNumber, second));
  stats = countryCacheStats();
}

const fmt = (v: number) => v.toFixed(3).padStart(7);
console.log(`${COUNT.toLocaleString('en')} distinct numbers × 2 sets, 10 countries, ${runs} runs (median, µs per number)`);
console.log(`  full parse, uncached          ${fmt(median(uncached))}`);
console.log(`  prefix cache, cold (empty)    ${fmt(median(cold))}   ${(median(uncached) / median(cold)).toFixed(1)}× faster`);
console.log(`  prefix cache, warm (new set)  ${fmt(median(warm))}   ${(median(uncached) / median(warm)).toFixed(1)}× faster`);
console.log(`  cache after both sets: ${stats.cacheEntries} cache entries, ${stats.automatonStates} automaton states; ` +
  `${(2 * COUNT).toLocaleString('en')} answers identical to the full parse (${unknown} null)`);
