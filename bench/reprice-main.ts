/**
 * `npm run bench:reprice`: the re-pricing figure on its own (it builds a month-long data set of
 * `BENCH_UNITS` units the first time, which takes minutes). Prints the figure beside its baseline.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchReprice } from './reprice.ts';

const dir = process.env.BENCH_DIR ?? '/tmp/wabameter-bench';
const units = Number(process.env.BENCH_UNITS ?? 5_000_000);
mkdirSync(dir, { recursive: true });
const r = await benchReprice(dir, units);
console.log(`re-pricing after a card change: ${units.toLocaleString('en-US')} units in ${r.chargeGroups.toLocaleString('en-US')} charge groups`);
console.log(`  baseline (re-pricing pass, cards unchanged): ${r.baselineSeconds.toFixed(2)} s`);
console.log(`  card change (+10 % on every USD rate):       ${r.repriceSeconds.toFixed(2)} s   (aim < 60 s)`);
console.log(`  total price ${r.totalBefore.toFixed(4)} → ${r.totalAfter.toFixed(4)} USD`);
writeFileSync(join(dir, 'reprice-results.json'), JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2));
