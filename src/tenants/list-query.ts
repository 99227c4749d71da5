/**
 * The query language of the Partner API's list endpoints (`…/clients`, `…/channels`), parsed and
 * checked here; the store turns the result into SQL (src/store/tenants-store.ts).
 *
 * - `sort`: `field` ascending, `-field` descending (`+field` ascending too); a list either as
 *   repeated `sort=` parameters or comma-separated (`sort=name,-created_at`). Only known fields.
 * - `filters`: a JSON object as a string (`{"name":"Acme"}`), or the Python-style literal some
 *   clients send (`{'status': 'ready'}`, `True`/`None` spellings included); nested objects are
 *   read as dotted keys (`{"waba_account":{"id":"1"}}` = `{"waba_account.id":"1"}`). Values are
 *   strings (numbers are read as their decimal text). Only known keys.
 *
 * Every problem is reported, each naming its parameter, so one 400 lists them all.
 */

export interface ParamError {
  /** The query parameter, e.g. `sort` or `filters.name`. */
  field: string;
  message: string;
}

export interface SortTerm<F extends string> {
  field: F;
  desc: boolean;
}

export const MAX_SORT_TERMS = 10;
export const MAX_FILTER_KEYS = 20;
export const MAX_FILTER_VALUE = 256;

/**
 * `sort` as received (absent, one string, or the strings of repeated parameters) → terms on
 * known fields, and the list echoed in the response (`["name","-created_at"]`).
 * `aliases` maps accepted spellings (e.g. `waba_account.id`) to the field sorted on.
 */
export function parseSort<F extends string>(
  raw: string | string[] | undefined,
  aliases: Readonly<Record<string, F>>,
  fallback: string[],
): { terms: SortTerm<F>[]; echo: string[]; errors: ParamError[] } {
  const tokens = (raw == null ? [] : Array.isArray(raw) ? raw : [raw])
    .flatMap((s) => String(s).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const named = tokens.filter((t) => t.replace(/^[-+]\s*/, '') !== '');
  const source = named.length > 0 ? tokens : fallback;
  const errors: ParamError[] = [];
  if (source.length > MAX_SORT_TERMS) {
    return { terms: [], echo: [], errors: [{ field: 'sort', message: `at most ${MAX_SORT_TERMS} fields, got ${source.length}` }] };
  }
  const terms: SortTerm<F>[] = [];
  const echo: string[] = [];
  const seen = new Set<F>();
  for (const token of source) {
    const desc = token.startsWith('-');
    const name = token.replace(/^[-+]\s*/, '');
    // A bare `-` or `+` (one library's request objects send `sort=-` by default) names no field.
    if (name === '') continue;
    const field = Object.hasOwn(aliases, name) ? aliases[name] : undefined;
    if (field === undefined) {
      errors.push({ field: 'sort', message: `unknown field ${quote(name)}; sortable fields: ${Object.keys(aliases).join(', ')}` });
      continue;
    }
    if (seen.has(field)) continue; // the first mention decides
    seen.add(field);
    terms.push({ field, desc });
    echo.push(desc ? `-${name}` : name);
  }
  return { terms, echo, errors };
}

export interface FilterTerm<K extends string> {
  key: K;
  value: string;
}

/**
 * `filters` as received → the parsed object (echoed in the response) and one term per key, the
 * keys checked against `keys`.
 */
export function parseFilters<K extends string>(
  raw: string | undefined,
  keys: readonly K[],
): { echo: Record<string, unknown>; terms: FilterTerm<K>[]; errors: ParamError[] } {
  const none = { echo: {}, terms: [], errors: [] };
  if (raw == null || raw.trim() === '') return none;
  let parsed: unknown;
  try {
    parsed = parseObjectLiteral(raw);
  } catch (err) {
    return { echo: {}, terms: [], errors: [{ field: 'filters', message: `must be a JSON object such as {"name":"Acme"} (${(err as Error).message})` }] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { echo: {}, terms: [], errors: [{ field: 'filters', message: 'must be a JSON object such as {"name":"Acme"}' }] };
  }
  const errors: ParamError[] = [];
  const terms: FilterTerm<K>[] = [];
  const flat: [string, unknown][] = [];
  const flatten = (prefix: string, obj: Record<string, unknown>, depth: number) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && depth < 2) flatten(key, v as Record<string, unknown>, depth + 1);
      else flat.push([key, v]);
    }
  };
  flatten('', parsed as Record<string, unknown>, 0);
  if (flat.length > MAX_FILTER_KEYS) {
    return { echo: {}, terms: [], errors: [{ field: 'filters', message: `at most ${MAX_FILTER_KEYS} keys, got ${flat.length}` }] };
  }
  const known = new Set<string>(keys);
  for (const [key, value] of flat) {
    const name = `filters.${clip(key)}`;
    if (!known.has(key)) {
      errors.push({ field: name, message: `unknown filter key; filterable keys: ${keys.join(', ')}` });
      continue;
    }
    let text: string;
    if (typeof value === 'string') text = value;
    else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
    else {
      errors.push({ field: name, message: `must be a string, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` });
      continue;
    }
    if (text.length > MAX_FILTER_VALUE) {
      errors.push({ field: name, message: `must be at most ${MAX_FILTER_VALUE} characters` });
      continue;
    }
    if (text.includes('\u0000')) {
      errors.push({ field: name, message: 'must not contain NUL characters' });
      continue;
    }
    terms.push({ key: key as K, value: text });
  }
  return { echo: parsed as Record<string, unknown>, terms, errors };
}

const clip = (s: string) => (s.length > 60 ? `${s.slice(0, 60)}…` : s);
const quote = (s: string) => JSON.stringify(clip(s));

/**
 * JSON, or failing that a Python literal of dicts, strings, numbers, True/False/None (what
 * `str(dict)` prints): single- or double-quoted strings with backslash escapes.
 */
export function parseObjectLiteral(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return new LiteralParser(text).parseAll();
  }
}

class LiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseAll(): unknown {
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) this.fail('unexpected text after the object');
    return v;
  }

  private fail(what: string): never {
    throw new Error(`${what} at character ${this.i + 1}`);
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private value(depth: number): unknown {
    if (depth > 8) this.fail('nested too deeply');
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"' || c === "'") return this.string();
    const word = /^(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|True|False|None|true|false|null)/.exec(this.s.slice(this.i));
    if (!word) this.fail('expected a value');
    this.i += word[0].length;
    switch (word[0]) {
      case 'True': case 'true': return true;
      case 'False': case 'false': return false;
      case 'None': case 'null': return null;
      default: return Number(word[0]);
    }
  }

  private object(depth: number): Record<string, unknown> {
    this.i++; // {
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return out; }
    for (;;) {
      this.ws();
      const q = this.s[this.i];
      if (q !== '"' && q !== "'") this.fail('expected a quoted key');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail('expected ":"');
      this.i++;
      Object.defineProperty(out, key, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected "," or "}"');
      this.ws();
      if (this.s[this.i] === '}') { this.i++; return out; } // trailing comma
    }
  }

  private array(depth: number): unknown[] {
    this.i++; // [
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return out; }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected "," or "]"');
    }
  }

  private string(): string {
    const quoteChar = this.s[this.i++];
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) this.fail('unterminated string');
      const c = this.s[this.i++];
      if (c === quoteChar) return out;
      if (c !== '\\') { out += c; continue; }
      const e = this.s[this.i++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case '0': out += '\0'; break;
        case 'x': out += this.hex(2); break;
        case 'u': out += this.hex(4); break;
        case 'U': out += this.hex(8); break;
        case undefined: this.fail('unterminated string'); break;
        default: out += e; // \\ \' \" \/ and anything else: the character itself
      }
    }
  }

  private hex(n: number): string {
    const h = this.s.slice(this.i, this.i + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) this.fail('bad escape');
    this.i += n;
    const cp = parseInt(h, 16);
    if (cp > 0x10ffff) this.fail('bad escape');
    return String.fromCodePoint(cp);
  }
}
