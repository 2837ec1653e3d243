import { parse } from 'csv-parse/sync';

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

/** Bytes → text, refusing binary data and invalid UTF-8 (a whole-file error: nothing is written). */
export function decodeCsv(bytes: Buffer): string {
  if (bytes.length > MAX_BYTES) throw new CsvFileError(`The file is larger than ${MAX_BYTES / 1024 / 1024} MB.`);
  if (bytes.includes(0)) throw new CsvFileError('The file looks binary (it contains NUL bytes); upload a UTF-8 CSV file.');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CsvFileError('The file is not valid UTF-8 text.');
  }
}

/**
 * The fixed format `email, first_name, last_name, password, "g1, g2"`: optional header,
 * optional BOM, CRLF or LF, spaces after commas ignored. Structural failures of the whole
 * file (unterminated quote, empty, header only, too many rows) throw CsvFileError; a row with
 * the wrong column count is reported on that row.
 */
export function parseUserCsv(text: string): CsvRow[] {
  if (Buffer.byteLength(text) > MAX_BYTES) throw new CsvFileError(`The file is larger than ${MAX_BYTES / 1024 / 1024} MB.`);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
      max_record_size: 64 * 1024,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    const e = err as { message?: string; lines?: number; code?: string };
    const where = e.lines ? ` (line ${e.lines})` : '';
    const why = e.code === 'CSV_QUOTE_NOT_CLOSED' ? 'a quoted field is not closed' : (e.message ?? 'malformed CSV');
    throw new CsvFileError(`The file is not valid CSV${where}: ${why}.`);
  }
  if (!records.length) throw new CsvFileError('The file is empty.');
  let start = 0;
  if ((records[0]!.record[0] ?? '').replace(/^\uFEFF/, '').trim().toLowerCase() === 'email') start = 1;
  const body = records.slice(start);
  if (!body.length) throw new CsvFileError('The file has a header but no rows.');
  if (body.length > MAX_ROWS) throw new CsvFileError(`The file has ${body.length} rows; the limit is ${MAX_ROWS}.`);
  return body.map(({ record, info }) => {
    const cells = record.map((c) => c.trim());
    const shapeError = cells.length === 5 ? null : `Expected 5 columns (email, first_name, last_name, password, groups), found ${cells.length}.`;
    return {
      row: info.lines,
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
  });
}

/** A CSV cell, quoted, and neutralised against spreadsheet formula injection. */
export function csvCell(value: string | number | null | undefined): string {
  let s = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}
