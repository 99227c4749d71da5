/**
 * Raw webhook body → JSON value. Refuses empty bodies, nesting deeper than the caller allows
 * (checked on the bytes, before JSON.parse sees them) and anything that is not JSON.
 */

export type BodyErrorCode = 'too_deep' | 'invalid_json' | 'empty_body';

/** Why a body could not be read as JSON; `details` carries the parser's or the scanner's position. */
export class BodyError extends Error {
  readonly code: BodyErrorCode;
  readonly details: string[];

  constructor(code: BodyErrorCode, message: string, details: string[] = []) {
    super(message);
    this.name = 'BodyError';
    this.code = code;
    this.details = details;
  }
}

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

export function parseJsonBody(raw: Buffer, opts: { maxDepth: number }): unknown {
  const { maxDepth } = opts;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) {
    throw new RangeError(`maxDepth must be a non-negative integer, got ${String(maxDepth)}`);
  }

  // Some senders (and hand-saved fixtures) prefix a UTF-8 BOM; JSON.parse rejects it.
  const start = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;

  let first = start;
  while (first < raw.length && isJsonWhitespace(raw[first])) first++;
  if (first === raw.length) {
    throw new BodyError('empty_body', 'request body is empty', [`${raw.length} byte(s), none of them JSON`]);
  }

  assertDepth(raw, first, maxDepth);

  // Invalid UTF-8 becomes U+FFFD here rather than an error: every field the meter reads is
  // ASCII, and the signature has already been checked on the raw bytes.
  const text = raw.toString('utf8', start);
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new BodyError('invalid_json', 'request body is not valid JSON', [detail]);
  }
}

/**
 * One pass over the bytes counting open `{`/`[` outside strings. JSON.parse has no depth limit
 * of its own, and whatever walks the value afterwards may recurse, so a body of 10,000 `[` must
 * be stopped here. Multi-byte UTF-8 sequences are all ≥ 0x80 and can never look like the ASCII
 * bytes compared below. Unbalanced closers are left for JSON.parse to report.
 */
function assertDepth(raw: Buffer, from: number, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  const length = raw.length;
  for (let i = from; i < length; i++) {
    const b = raw[i];
    if (inString) {
      if (b === BACKSLASH) i++; // the escaped byte (possibly a quote) cannot end the string
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
      if (depth > maxDepth) {
        throw new BodyError('too_deep', `JSON nesting exceeds ${maxDepth} levels`, [
          `depth ${depth} reached at byte ${i}`,
        ]);
      }
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
}

function isJsonWhitespace(b: number): boolean {
  return b === SPACE || b === LF || b === CR || b === TAB;
}
