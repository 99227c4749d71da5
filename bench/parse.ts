/**
 * In-process figures that were once timing assertions in tests (a busy machine made them flaky),
 * each beside a baseline from the same run:
 * - a 3 MB webhook body with 1,000 statuses through the webhook route's parsing (`parseJsonBody`,
 *   then `parseWebhook`), beside `JSON.parse` of the same bytes: the ratio shows any accidental
 *   quadratic path;
 * - the demo data set's traffic (3 channels × 90 days × 150 messages a day) generated, beside
 *   `JSON.stringify` of the bodies it produced.
 */
import { demoWebhookBodies, type DemoTrafficOptions } from '../src/demo/traffic.ts';
import { parseJsonBody } from '../src/ingest/json-body.ts';
import { parseWebhook } from '../src/ingest/webhook.ts';
import { MAX_DEPTH } from '../src/api/routes/webhooks.ts';
import { largeWebhookBody } from '../test/helpers.ts';

export interface TimedFigure {
  label: string;
  /** Median of the runs, milliseconds. */
  ms: number;
  baselineLabel: string;
  baselineMs: number;
  runs: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

const utc = (y: number, m: number, d = 1, h = 0) => Date.UTC(y, m - 1, d, h) / 1000;
const DEMO: DemoTrafficOptions = {
  channels: [
    { phoneNumberId: '106540352242920', wabaId: '102290129340390', displayPhoneNumber: '15550783880', audience: { DE: 5, GB: 2, ES: 1, IN: 1 }, dailyVolume: 150 },
    { phoneNumberId: '106540352242921', wabaId: '102290129340391', displayPhoneNumber: '15550783881', audience: { IN: 6, ID: 2, NG: 1, AE: 1, US: 1 }, dailyVolume: 150 },
    { phoneNumberId: '106540352242922', wabaId: '102290129340392', displayPhoneNumber: '15550783882', audience: { BR: 4, MX: 3, US: 2, DO: 1 }, dailyVolume: 150 },
  ],
  now: utc(2025, 11, 15, 10),
  seed: 42,
  recentDays: 90,
};

export function parseFigures(runs = 15): TimedFigure[] {
  const raw = largeWebhookBody(1000, 2700);
  const text = raw.toString('utf8');
  const check = parseWebhook(parseJsonBody(raw, { maxDepth: MAX_DEPTH }));
  if (check.statuses.length !== 1000) throw new Error(`parse bench: ${check.statuses.length} statuses parsed, expected 1000`);
  const parse: number[] = [];
  const jsonParse: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const a = timed(() => parseWebhook(parseJsonBody(raw, { maxDepth: MAX_DEPTH })));
    const b = timed(() => JSON.parse(text));
    if (i >= 2) { // the first two warm up
      parse.push(a);
      jsonParse.push(b);
    }
  }

  const generate: number[] = [];
  const stringify: number[] = [];
  for (let i = 0; i < 3; i++) {
    let bodies: object[] = [];
    generate.push(timed(() => { bodies = [...demoWebhookBodies(DEMO)]; }));
    stringify.push(timed(() => { for (const b of bodies) JSON.stringify(b); }));
  }
  return [
    { label: `webhook parsing, ${(raw.length / 1e6).toFixed(1)} MB / 1,000 statuses (ms)`, ms: median(parse), baselineLabel: 'JSON.parse of the same bytes', baselineMs: median(jsonParse), runs },
    { label: 'demo traffic, 3 channels × 90 days (ms)', ms: median(generate), baselineLabel: 'JSON.stringify of its bodies', baselineMs: median(stringify), runs: 3 },
  ];
}
