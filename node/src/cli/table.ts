/**
 * Plain-text rendering for `rkv admin` without --json: aligned tables for
 * arrays of records and aligned `key: value` lines for objects.
 */

export interface Column<Row> {
  header: string;
  value: (row: Row) => unknown;
  align?: 'left' | 'right';
}

export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '--';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v) && v.every(isScalar)) return v.length === 0 ? '--' : v.map(formatCell).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Columns default to the union of the rows' keys, in first-seen order. */
export function formatTable<Row extends Record<string, unknown>>(rows: Row[], columns?: Column<Row>[]): string {
  if (rows.length === 0) return '(none)';
  const cols: Column<Row>[] =
    columns ??
    [...new Set(rows.flatMap((r) => Object.keys(r)))].map((k) => ({
      header: k,
      value: (r: Row) => r[k],
      align: rows.every((r) => typeof r[k] === 'number' || r[k] === undefined) ? 'right' : 'left',
    }));
  const cells = rows.map((r) => cols.map((c) => formatCell(c.value(r))));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => (cols[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...cells.map(line)].join('\n');
}

export function formatPairs(pairs: [string, unknown][]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length + 1));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${formatCell(v)}`).join('\n');
}

function indent(s: string, by = '  '): string {
  return s
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');
}

/** Best-effort rendering for any JSON answer the admin API gives. */
export function renderValue(data: unknown): string {
  if (Array.isArray(data)) {
    if (data.every(isRecord)) return formatTable(data);
    return data.length === 0 ? '(none)' : data.map(formatCell).join('\n');
  }
  if (!isRecord(data)) return formatCell(data);
  const out: string[] = [];
  let pairs: [string, unknown][] = [];
  const flush = (): void => {
    if (pairs.length) out.push(formatPairs(pairs));
    pairs = [];
  };
  for (const [k, v] of Object.entries(data)) {
    const simple = isScalar(v) || (Array.isArray(v) && v.every(isScalar) && v.length <= 8);
    if (simple) {
      pairs.push([k, v]);
      continue;
    }
    flush();
    out.push(`${k}:\n${indent(renderValue(v))}`);
  }
  flush();
  return out.join('\n');
}
