import { Parser } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';

export const MAX_ROWS = 100_000;
export const MAX_BYTES = 20 * 1024 * 1024;

export interface CsvRow {
  /** 1-based line number in the file, as an administrator counts (header included). */
  row: number;
  email: string;
  firstName: string;
  lastName: string;
  password: string;
  groups: string[];
  /** Set when the row's shape is wrong (column count). */
  shapeError: string | null;
}

export class CsvFileError extends Error {
  override name = 'CsvFileError';
}

/** Input slice fed to the parser at a time: small enough that parsing never blocks the event loop for long. */
const SLICE = 64 * 1024;

/** The parser options of the fixed format; a slice re-parsed for a chunk adds the file's record delimiter. */
const OPTIONS = {
  trim: true,
  skip_empty_lines: true,
  relax_column_count: true,
  max_record_size: 64 * 1024,
} as const;

/**
 * A validated file without its parsed rows: the UTF-8 bytes, where each row's record starts
 * and ends in them, and the line each starts on. A chunk parses only its own rows
 * (`rowsAt`), so a 100k-row file is never held as 100k row objects (it was ~21 MB of live
 * heap, and V8 sizes the old generation from the live heap: ~4× that in peak RSS).
 */
export interface CsvIndex {
  bytes: Buffer;
  /** Row i is the record in `bytes[offsets[i], offsets[i + 1])` (with any blank lines before it). */
  offsets: Int32Array;
  /** Row i's number: the line its record starts on (1-based, header included). */
  lines: Int32Array;
  count: number;
  /**
   * The record delimiter csv-parse discovered in the whole file (CRLF, LF or CR): a slice is
   * split by the same one, whatever line break it happens to meet first (one inside a quoted
   * field, or a lone LF in a CRLF file, is data, not a new record).
   */
  recordDelimiter: string | undefined;
}

/** csv-parse's synchronous core: the object its stream class drives (`Parser#api`). */
interface CsvCore {
  /** Parses `buf` (or ends the input): records go to `push` as they complete; returns the error, if any. */
  parse(buf: Buffer | undefined, end: boolean, push: (record: string[]) => void, close: () => void): Error | undefined;
  /** `bytes`: how far the input has been consumed, live; when a record is pushed, just after its delimiter (BOM included). */
  info: { bytes: number };
  options: { record_delimiter: Buffer[] };
}

/**
 * The core of a csv-parse `Parser`, driven directly. A record's end is then `info.bytes` at
 * the moment it is pushed, and nothing else is built per record. Through the stream with
 * `info` and `raw` (what this module used before), each record also got an info object of ten
 * fields and its raw text, and went through the stream's buffer and an async iterator: the
 * scan of a 100k-row file took 320–360 ms that way, 125–160 ms this way, and every upload is
 * scanned twice (the mutation counts it, the job indexes it). `Parser#api` is not in
 * csv-parse's typings; a version without it fails here, loudly, on the first upload.
 */
function csvCore(options: Record<string, unknown>): CsvCore {
  const core = (new Parser(options) as unknown as { api?: CsvCore }).api;
  if (typeof core?.parse !== 'function' || typeof core.info?.bytes !== 'number')
    throw new Error('csv-parse has no Parser#api: the upload scanner needs a csv-parse with it (7.x).');
  return core;
}

const ignore = () => {};

/**
 * The fixed format `email, first_name, last_name, password, "g1, g2"`: optional header,
 * optional BOM, CRLF or LF, spaces after commas ignored. Structural failures of the whole
 * file (unterminated quote, empty, header only, too many rows) throw CsvFileError; a row with
 * the wrong column count is reported on that row (by `rowsAt`).
 *
 * Fed to the parser in slices with a turn of the event loop between them: a 20 MB file takes
 * most of a second to parse, which done in one go would stall every request (sign-ins
 * included) of this process meanwhile. Records are not kept: `each` sees every row's record
 * once (to index the file), and the result holds only offsets.
 */
export async function scanUserCsv(bytes: Buffer, each?: (record: string[], line: number) => void, slice = SLICE): Promise<CsvIndex> {
  if (bytes.length > MAX_BYTES) throw new CsvFileError(`The file is larger than ${MAX_BYTES / 1024 / 1024} MB.`);
  const core = csvCore({ ...OPTIONS, bom: true });
  let offsets: Int32Array = new Int32Array(1024);
  let lines: Int32Array = new Int32Array(1024);
  let count = 0;
  let header = false;
  // Line breaks before the current record. The parser's own line count is where a record
  // ends (and counts CRLF inside quotes oddly); an administrator looks for the line a record
  // starts on, so rows are numbered from the bytes: skipped empty lines lead a record's span.
  let breaksBefore = 0;
  let end = 0;
  const push = (record: string[]) => {
    const start = end;
    end = core.info.bytes;
    const line = 1 + breaksBefore + leadingBreaks(bytes, start, end);
    breaksBefore += lineBreaksIn(bytes, start, end);
    if (
      !count &&
      !header &&
      (record[0] ?? '')
        .replace(/^\uFEFF/, '')
        .trim()
        .toLowerCase() === 'email'
    ) {
      header = true;
      return;
    }
    if (count >= MAX_ROWS) throw new CsvFileError(`The file has more than ${MAX_ROWS} rows; the limit is ${MAX_ROWS}.`);
    if (count + 1 >= offsets.length) {
      offsets = grow(offsets);
      lines = grow(lines);
    }
    offsets[count] = start;
    offsets[count + 1] = end;
    lines[count] = line;
    count++;
    each?.(record, line);
  };
  try {
    for (let i = 0; i < bytes.length; i += slice) {
      const err = core.parse(bytes.subarray(i, i + slice), false, push, ignore);
      if (err) throw err;
      await new Promise((r) => setImmediate(r));
    }
    const err = core.parse(undefined, true, push, ignore);
    if (err) throw err;
  } catch (err) {
    if (err instanceof CsvFileError) throw err;
    const e = err as { message?: string; lines?: number; code?: string };
    const where = e.lines ? ` (line ${e.lines})` : '';
    const why = e.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is not closed' : (e.message ?? 'malformed CSV');
    throw new CsvFileError(`The file is not valid CSV${where}: ${why}.`);
  }
  if (!count) throw new CsvFileError(header ? 'The file has a header but no rows.' : 'The file is empty.');
  const found = core.options.record_delimiter[0];
  return {
    bytes,
    offsets: offsets.slice(0, count + 1),
    lines: lines.slice(0, count),
    count,
    recordDelimiter: found?.toString('utf8'),
  };
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * Rows `from` to `to` (exclusive) of a scanned file, parsed from their slice of the bytes:
 * the records are complete and were parsed in context by the scan, so the slice parses to
 * the same records (same delimiter; a BOM is stripped only at the file's start, as the scan did).
 */
export function rowsAt(file: CsvIndex, from: number, to: number): CsvRow[] {
  to = Math.min(to, file.count);
  if (from >= to) return [];
  const start = file.offsets[from]!;
  const records = parseSync(file.bytes.subarray(start, file.offsets[to]!), {
    ...OPTIONS,
    bom: start === 0,
    ...(file.recordDelimiter ? { record_delimiter: file.recordDelimiter } : {}),
  }) as string[][];
  // A mismatch would shift every row's outcome onto another row's number: never guess.
  if (records.length !== to - from) throw new Error(`CSV rows ${from}–${to} re-parsed to ${records.length} records.`);
  return records.map((record, i) => toRow(record, file.lines[from + i]!));
}

/** The whole file's rows at once (small files and tests; uploads use `scanUserCsv` and `rowsAt`). */
export async function parseUserCsv(text: string | Buffer): Promise<CsvRow[]> {
  const file = await scanUserCsv(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  return rowsAt(file, 0, file.count);
}

/** Line breaks in `bytes[from, to)`: CRLF, LF or a lone CR each count once. */
function lineBreaksIn(bytes: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (c === 10 || (c === 13 && bytes[i + 1] !== 10)) n++;
  }
  return n;
}

/**
 * The line breaks of the blank lines a record's span starts with (empty lines the parser
 * skipped, white space included). Only a span that starts with white space can have any:
 * other records are not decoded.
 */
function leadingBreaks(bytes: Buffer, from: number, to: number): number {
  const c = bytes[from];
  if (c === undefined || !(c === 0x20 || (c >= 0x09 && c <= 0x0d) || c >= 0x80)) return 0;
  const blank = /^[\s\uFEFF]*[\r\n]/.exec(bytes.toString('utf8', from, to))?.[0] ?? '';
  // The match is a prefix of the decoded span, so its UTF-8 length is its length in `bytes`.
  return lineBreaksIn(bytes, from, from + Buffer.byteLength(blank));
}

export function toRow(record: string[], line: number): CsvRow {
  const cells = record.map((c) => c.trim());
  const shapeError =
    cells.length === 5 ? null : `Expected 5 columns (email, first_name, last_name, password, groups), found ${cells.length}.`;
  return {
    row: line,
    email: cells[0] ?? '',
    firstName: cells[1] ?? '',
    lastName: cells[2] ?? '',
    password: cells[3] ?? '',
    groups: (cells[4] ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
    shapeError,
  };
}

/** A CSV cell, quoted, and neutralised against spreadsheet formula injection. */
export function csvCell(value: string | number | null | undefined): string {
  let s = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}
