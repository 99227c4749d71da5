/**
 * `npm run cli -- <command>`: operator commands, run against a running wabameter over HTTP so that
 * one process owns the store and re-prices after a change.
 *
 *   rate-cards load <file.csv> --effective-from YYYY-MM-DD --unit message|conversation
 *   rate-cards list [--market M] [--currency C] [--unit U] [--json]
 *   volume-tiers load <file.csv> --effective-from YYYY-MM-DD
 *   volume-tiers list [--market M] [--currency C] [--category C] [--json]
 *   migrate [--database-url URL]   (opens the store itself: $DATABASE_URL)
 *   copy-store --from <sqlite path or sqlite:URL> --to <postgres://…> [--batch-size N] [--progress-every N]
 *     (opens both stores itself: copies an embedded SQLite store into an empty PostgreSQL
 *     database after migrating it forward, in one transaction, and verifies every table's row
 *     count; the source must be at this build's schema version. See copy-store.ts and docs/deploy.md.)
 *
 * Global options: `--url` (default $WABAMETER_URL or http://localhost:8080) and `--token`
 * (default $WABAMETER_ADMIN_TOKEN). A failure prints the server's `developer_message` and
 * `details` on stderr and exits with status 1.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_DATABASE_URL } from '../config.ts';
import { openStore } from '../store/database.ts';
import { migrate, schemaVersion } from '../store/migrations.ts';
import { copyStore, CopyStoreError, DEFAULT_BATCH_SIZE, DEFAULT_PROGRESS_EVERY, formatCopySummary } from './copy-store.ts';

export const DEFAULT_URL = 'http://localhost:8080';

type Globals = { url: string; token?: string };

class CliError extends Error {
  constructor(message: string, readonly details: string[] = []) {
    super(message);
  }
}

function clientOf(cmd: Command) {
  const { url, token } = cmd.optsWithGlobals<Globals>();
  if (!token) throw new CliError('No admin token: pass --token or set WABAMETER_ADMIN_TOKEN');
  const base = url.replace(/\/+$/, '');
  return async function call(method: 'GET' | 'POST', path: string, query: Record<string, string | undefined>, csv?: string): Promise<any> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    const target = `${base}${path}${params.size ? `?${params}` : ''}`;
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(csv === undefined ? {} : { 'content-type': 'text/csv; charset=utf-8' }) },
        body: csv,
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`Cannot reach wabameter at ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, ['Is the service running? Set --url or WABAMETER_URL']);
    }
    const text = await res.text();
    let body: any;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const meta = body?.meta;
      throw new CliError(`${res.status} ${meta?.developer_message ?? (text.slice(0, 200) || res.statusText)}`, Array.isArray(meta?.details) ? meta.details : []);
    }
    return body;
  };
}

async function readCsv(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Rows of cells → aligned columns (numbers right-aligned), header underlined. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === '' || r[i] === 'n/a' || /^[\d.,]+$/.test(r[i])));
  const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const CATEGORY_COLUMNS: Array<[string, string]> = [
  ['marketing', 'MARKETING'],
  ['utility', 'UTILITY'],
  ['authentication', 'AUTH'],
  ['authentication_international', 'AUTH-INTL'],
  ['service', 'SERVICE'],
  ['business_initiated', 'BUSINESS-INIT'],
  ['user_initiated', 'USER-INIT'],
];

function status(r: { shipped_default: boolean; replaced: boolean }): string {
  if (!r.shipped_default) return 'operator';
  return r.replaced ? 'default (replaced)' : 'default';
}

function rateCardTable(list: any[]): string {
  if (list.length === 0) return 'No rate cards match.';
  const cols = CATEGORY_COLUMNS.filter(([c]) => list.some((r) => r.rates[c] !== undefined));
  return table(
    ['EFFECTIVE', 'UNIT', 'MARKET', 'CUR', ...cols.map(([, h]) => h), 'STATUS', 'SOURCE'],
    list.map((r) => [r.effective_from, r.unit, r.market, r.currency, ...cols.map(([c]) => (r.rates[c] === undefined ? 'n/a' : String(r.rates[c]))), status(r), r.source]),
  );
}

function tierTable(list: any[]): string {
  if (list.length === 0) return 'No volume tiers match.';
  return table(
    ['EFFECTIVE', 'MARKET', 'CUR', 'CATEGORY', 'TIER', 'FROM', 'TO', 'RATE', 'STATUS', 'SOURCE'],
    list.flatMap((s) => s.tiers.map((t: any) => [s.effective_from, s.market, s.currency, s.category, t.tier, String(t.from), t.to === null ? '' : String(t.to), String(t.rate), status(s), s.source])),
  );
}

export function buildProgram(out: (text: string) => void = (t) => process.stdout.write(`${t}\n`)): Command {
  const program = new Command('wabameter')
    .description('Operator commands for a running wabameter (rate cards, volume tiers) and for its store (migrate, copy-store)')
    .addOption(new Option('--url <url>', 'base URL of the wabameter service').env('WABAMETER_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'admin token').env('WABAMETER_ADMIN_TOKEN'))
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  const rateCards = program.command('rate-cards').description("Meta's rate cards (CSV) in force from a date");
  rateCards.command('load')
    .description("load one of Meta's rate-card CSVs (Market,Currency,Marketing,Utility,…)")
    .argument('<file.csv>', 'the CSV file')
    .requiredOption('--effective-from <YYYY-MM-DD>', 'first day the card is in force')
    .addOption(new Option('--unit <unit>', 'what the card prices').choices(['message', 'conversation']).makeOptionMandatory())
    .action(async (file: string, opts: { effectiveFrom: string; unit: string }, cmd: Command) => {
      const call = clientOf(cmd);
      const r = await call('POST', '/admin/rate-cards', { effective_from: opts.effectiveFrom, unit: opts.unit, filename: basename(file) }, await readCsv(file));
      out(`Loaded ${r.rows} ${r.unit} rate-card row${r.rows === 1 ? '' : 's'} effective ${r.effective_from} (${r.currencies.join(', ')}): ${r.markets.join(', ')}`);
    });
  rateCards.command('list')
    .description('list loaded rate cards: shipped defaults and operator rows')
    .option('--market <market>', 'only this market (e.g. "Rest of Africa")')
    .option('--currency <code>', 'only this currency (e.g. USD)')
    .addOption(new Option('--unit <unit>', 'only this unit').choices(['message', 'conversation']))
    .option('--json', 'print the server\'s JSON')
    .action(async (opts: { market?: string; currency?: string; unit?: string; json?: boolean }, cmd: Command) => {
      const call = clientOf(cmd);
      const r = await call('GET', '/admin/rate-cards', { market: opts.market, currency: opts.currency, unit: opts.unit });
      out(opts.json ? JSON.stringify(r, null, 2) : rateCardTable(r.rate_cards));
    });

  const tiers = program.command('volume-tiers').description('volume-tier tables (utility, authentication, authentication-international)');
  tiers.command('load')
    .description('load a tier table (CSV market,currency,category,from,to,rate; "to" empty for the last tier)')
    .argument('<file.csv>', 'the CSV file')
    .requiredOption('--effective-from <YYYY-MM-DD>', 'first day the tiers are in force')
    .action(async (file: string, opts: { effectiveFrom: string }, cmd: Command) => {
      const call = clientOf(cmd);
      const r = await call('POST', '/admin/volume-tiers', { effective_from: opts.effectiveFrom, filename: basename(file) }, await readCsv(file));
      out(`Loaded ${r.rows} volume tier${r.rows === 1 ? '' : 's'} in ${r.schedules} schedule${r.schedules === 1 ? '' : 's'} effective ${r.effective_from} (${r.currencies.join(', ')}): ${r.markets.join(', ')}`);
    });
  tiers.command('list')
    .description('list loaded volume tiers: shipped defaults and operator rows')
    .option('--market <market>', 'only this market')
    .option('--currency <code>', 'only this currency')
    .addOption(new Option('--category <category>', 'only this category').choices(['utility', 'authentication', 'authentication_international', 'authentication-international']))
    .option('--json', 'print the server\'s JSON')
    .action(async (opts: { market?: string; currency?: string; category?: string; json?: boolean }, cmd: Command) => {
      const call = clientOf(cmd);
      const r = await call('GET', '/admin/volume-tiers', { market: opts.market, currency: opts.currency, category: opts.category });
      out(opts.json ? JSON.stringify(r, null, 2) : tierTable(r.volume_tiers));
    });

  program.command('migrate')
    .description('apply the schema migrations this build has to the store (forward only; the service also does this at start)')
    .addOption(new Option('--database-url <url>', 'the store: sqlite:<path> or postgres://…').env('DATABASE_URL').default(DEFAULT_DATABASE_URL))
    .action(async (opts: { databaseUrl: string }) => {
      const store = await openStore(opts.databaseUrl, { migrate: false });
      try {
        const before = await schemaVersion(store.db, store.dialect);
        await migrate(store.db, store.dialect);
        const after = await schemaVersion(store.db, store.dialect);
        out(before === after
          ? `${store.dialect} ${store.location}: schema version ${after}, up to date`
          : `${store.dialect} ${store.location}: schema version ${before} → ${after} (${after - before} migration${after - before === 1 ? '' : 's'} applied)`);
      } catch (e) {
        throw new CliError(`Migrating ${store.location} failed: ${(e as Error).message}`, ['Nothing of the failed migration was applied; earlier ones stay applied']);
      } finally {
        await store.close();
      }
    });

  program.command('copy-store')
    .description('copy an embedded SQLite store into an empty PostgreSQL database (migrated forward first) in one transaction, verifying row counts')
    .requiredOption('--from <sqlite>', 'the SQLite store: a path, sqlite:<path> or file:<path> (read only; may be in use)')
    .requiredOption('--to <postgres-url>', 'the PostgreSQL store: postgres://user@host:port/database (must hold no data)')
    .option('--batch-size <rows>', 'rows per INSERT', positiveInt, DEFAULT_BATCH_SIZE)
    .option('--progress-every <rows>', 'a progress line on stderr every this many rows of a big table', positiveInt, DEFAULT_PROGRESS_EVERY)
    .action(async (opts: { from: string; to: string; batchSize: number; progressEvery: number }) => {
      try {
        out(formatCopySummary(await copyStore(opts)));
      } catch (e) {
        if (e instanceof CopyStoreError) throw new CliError(e.message, e.details);
        throw e;
      }
    });

  return program;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`error: ${e.message}\n${e.details.map((d) => `  ${d}\n`).join('')}`);
      return 1;
    }
    throw e;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
