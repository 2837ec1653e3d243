import { describe, expect, test } from 'vitest';
import { parse } from 'csv-parse/sync';
import { parseUserCsv, rowsAt, scanUserCsv } from '../server/modules/bulk-operation/csv.js';

/**
 * The upload job keeps only row offsets and parses each chunk's slice of the file when the
 * chunk runs: any split of the rows must give the rows of the whole file, with the numbers of
 * the lines they start on, whatever the file's line breaks, quotes and BOM.
 */

/** A deterministic generator (no randomness between runs). */
function lcg(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
}

const COMMON = [
  'a',
  'b@x.test',
  ' ',
  ',',
  ',',
  ',',
  '\n',
  '\n',
  '\r\n',
  '\r\n',
  'é',
  '日本',
  '"q\nq"',
  '"x,y"',
  '"r\r\ns"',
  '"t""u"',
  '\n\n',
  'email',
];
const RARE = ['"', '\r', '\uFEFF'];

function files(n: number): string[] {
  const r = lcg(15);
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    let t = '';
    const parts = 1 + Math.floor(r() * 40);
    for (let i = 0; i < parts; i++) t += r() < 0.02 ? RARE[Math.floor(r() * RARE.length)] : COMMON[Math.floor(r() * COMMON.length)];
    if (r() < 0.4) t = (r() < 0.5 ? '\uFEFF' : '') + (r() < 0.5 ? 'email,first_name\r\n' : 'email,first_name\n') + t;
    out.push(t);
  }
  return out;
}

describe('CSV slices', () => {
  test('every split of a file parses to the rows of the whole, scanned in any input slice size', async () => {
    let valid = 0;
    for (const text of files(1500)) {
      const bytes = Buffer.from(text, 'utf8');
      let whole: unknown;
      try {
        const file = await scanUserCsv(bytes, undefined, 1);
        whole = rowsAt(file, 0, file.count);
        for (let s = 1; s < file.count; s++) expect([...rowsAt(file, 0, s), ...rowsAt(file, s, file.count)]).toEqual(whole);
        valid++;
      } catch (err) {
        whole = (err as Error).message;
      }
      // The same rows (or the same error) when the parser is fed the file in one piece.
      const again = await parseUserCsv(text).catch((err: Error) => err.message);
      expect(again, JSON.stringify(text)).toEqual(whole);
      // And the same records as csv-parse gives for the whole file.
      if (typeof whole !== 'string') {
        const records = parse(bytes, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
        const rows = whole as { email: string }[];
        expect(rows.map((row) => row.email)).toEqual(records.slice(records.length - rows.length).map((rec) => rec[0]!.trim()));
      }
    }
    expect(valid).toBeGreaterThan(200);
  });

  test('rows keep the line they start on, in CRLF, LF and quoted multi-line records', async () => {
    const text = '\uFEFFemail,a\r\n\r\none@x,"two\r\nlines"\r\n\r\n  \r\nthree@x,b\nstill three\r\nfour@x,c';
    const file = await scanUserCsv(Buffer.from(text));
    expect([...file.lines]).toEqual([3, 7, 9]);
    expect(rowsAt(file, 1, 3).map((r) => [r.row, r.email])).toEqual([
      [7, 'three@x'],
      [9, 'four@x'],
    ]);
    // A lone LF in a CRLF file is data, in a slice as in the whole file.
    expect(rowsAt(file, 1, 2)[0]!.lastName).toBe('');
    expect(rowsAt(file, 1, 2)[0]!.firstName).toBe('b\nstill three');
  });

  test('blank lines that end in a bare LF in a CRLF file count as lines too', async () => {
    // Line 2 ends in LF, line 3 in CRLF, line 4 in LF: the next row starts on line 5 (the
    // scanner counted 4 when it numbered rows from csv-parse's raw text).
    const file = await scanUserCsv(Buffer.from('a@x,b\r\n\n\r\n\nc@x,d\r\n'));
    expect([...file.lines]).toEqual([1, 5]);
    expect(rowsAt(file, 1, 2)[0]).toMatchObject({ row: 5, email: 'c@x' });
  });
});
