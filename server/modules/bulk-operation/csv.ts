import { parse } from 'csv-parse';

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

/**
 * The fixed format `email, first_name, last_name, password, "g1, g2"`: optional header,
 * optional BOM, CRLF or LF, spaces after commas ignored. Structural failures of the whole
 * file (unterminated quote, empty, header only, too many rows) throw CsvFileError; a row with
 * the wrong column count is reported on that row.
 *
 * Streaming csv-parse, fed in slices with a turn of the event loop between them: a 20 MB file
 * takes over a second to parse, which done in one go would stall every request (sign-ins
 * included) of this process meanwhile.
 */
export async function parseUserCsv(text: string): Promise<CsvRow[]> {
  if (Buffer.byteLength(text) > MAX_BYTES) throw new CsvFileError(`The file is larger than ${MAX_BYTES / 1024 / 1024} MB.`);
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
    // The raw text of each record, to number rows by the line they start on (below).
    raw: true,
    max_record_size: 64 * 1024,
  });
  const feed = (async () => {
    for (let i = 0; i < text.length; i += SLICE) {
      if (parser.destroyed) return;
      if (!parser.write(text.slice(i, i + SLICE))) await writable(parser);
      await new Promise((r) => setImmediate(r));
    }
    parser.end();
  })();
  const rows: CsvRow[] = [];
  let header = false;
  // Line breaks consumed before the current record. csv-parse's `info.lines` is where a record
  // ends (and counts CRLF inside quotes oddly); an administrator looks for the line a record
  // starts on, so rows are numbered from the raw text: skipped empty lines lead a record's raw.
  let breaksBefore = 0;
  try {
    for await (const { record, raw } of parser as AsyncIterable<{ record: string[]; raw: string }>) {
      const line = 1 + breaksBefore + lineBreaks(leadingBlank(raw));
      breaksBefore += lineBreaks(raw);
      if (
        !rows.length &&
        !header &&
        (record[0] ?? '')
          .replace(/^\uFEFF/, '')
          .trim()
          .toLowerCase() === 'email'
      ) {
        header = true;
        continue;
      }
      if (rows.length >= MAX_ROWS) {
        parser.destroy();
        throw new CsvFileError(`The file has more than ${MAX_ROWS} rows; the limit is ${MAX_ROWS}.`);
      }
      rows.push(toRow(record, line));
    }
  } catch (err) {
    if (err instanceof CsvFileError) throw err;
    const e = err as { message?: string; lines?: number; code?: string };
    const where = e.lines ? ` (line ${e.lines})` : '';
    const why = e.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is not closed' : (e.message ?? 'malformed CSV');
    throw new CsvFileError(`The file is not valid CSV${where}: ${why}.`);
  } finally {
    await feed.catch(() => {});
  }
  if (!rows.length) throw new CsvFileError(header ? 'The file has a header but no rows.' : 'The file is empty.');
  return rows;
}

/** Line breaks in `s` (CRLF, LF or a lone CR each count once). */
function lineBreaks(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 || (c === 13 && s.charCodeAt(i + 1) !== 10)) n++;
  }
  return n;
}

/** The blank lines a record's raw text starts with (empty lines the parser skipped). */
function leadingBlank(raw: string): string {
  const m = /^[\s\uFEFF]*[\r\n]/.exec(raw);
  return m ? m[0] : '';
}

/** Resolves when the parser wants more input, or has been closed (error, too many rows). */
function writable(parser: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      parser.off('drain', done);
      parser.off('close', done);
      resolve();
    };
    parser.on('drain', done);
    parser.on('close', done);
  });
}

function toRow(record: string[], line: number): CsvRow {
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
