/**
 * Charts of a run, rendered from its CSVs with Vega-Lite: compiled to Vega and
 * drawn by vega's headless View to SVG (no browser, no canvas), then
 * rasterised to PNG by resvg (a prebuilt binary shipped in its npm package).
 * PNG is best effort: where resvg cannot load, the SVGs are still written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { opCsvPath } from './report.js';

const PERCENTILES: [column: string, label: string][] = [
  ['p50', 'p50'],
  ['p95', 'p95'],
  ['p99', 'p99'],
  ['p99_9', 'p99.9'],
  ['max', 'max'],
];

type Row = Record<string, number>;

/** The CSVs are our own (numbers only, no quoting), so a split is a full parser. */
export function readOpCsv(dir: string, op: string): Row[] {
  const [header, ...lines] = readFileSync(opCsvPath(dir, op), 'utf8').trim().split('\n');
  const cols = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [cols[i]!, Number(v)])));
}

const BASE = { width: 720, height: 300, background: 'white', config: { font: 'sans-serif' } } as const;

function latencySpec(op: string, rows: Row[]): TopLevelSpec {
  // Empty windows have no latency; log scales cannot show their zeros.
  const values = rows.filter((r) => r.n! > 0).flatMap((r) => PERCENTILES.map(([col, label]) => ({ elapsed: r.elapsed, series: label, us: r[col] })));
  return {
    ...BASE,
    title: `${op}: latency by interval (microseconds)`,
    data: { values },
    mark: { type: 'line', point: values.length < 60 },
    encoding: {
      x: { field: 'elapsed', type: 'quantitative', title: 'elapsed (s)' },
      y: { field: 'us', type: 'quantitative', title: 'latency (µs, log scale)', scale: { type: 'log' } },
      color: { field: 'series', type: 'nominal', title: 'percentile', scale: { domain: PERCENTILES.map(([, l]) => l) } },
    },
  };
}

function throughputSpec(byOp: [string, Row[]][]): TopLevelSpec {
  const values = byOp.flatMap(([op, rows]) =>
    rows.flatMap((r) => {
      const w = r.window! > 0 ? r.window! : 1;
      const points = [{ elapsed: r.elapsed, series: op, kind: 'ok', rate: r.n! / w }];
      return r.errors! > 0 ? [...points, { elapsed: r.elapsed, series: `${op} errors`, kind: 'errors', rate: r.errors! / w }] : points;
    }),
  );
  return {
    ...BASE,
    title: 'throughput by interval (operations per second)',
    data: { values },
    mark: { type: 'line', point: values.length < 60 },
    encoding: {
      x: { field: 'elapsed', type: 'quantitative', title: 'elapsed (s)' },
      y: { field: 'rate', type: 'quantitative', title: 'ops/s' },
      color: { field: 'series', type: 'nominal', title: 'operation' },
      ...(values.some((v) => v.kind === 'errors')
        ? { strokeDash: { field: 'kind', type: 'nominal', title: 'outcome', scale: { domain: ['ok', 'errors'], range: [[1, 0], [4, 3]] } } }
        : {}),
    },
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

type Rasterise = (svg: string) => Buffer;

async function rasteriser(): Promise<Rasterise | undefined> {
  try {
    const { Resvg } = await import('@resvg/resvg-js');
    return (svg) => new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, sansSerifFamily: 'DejaVu Sans', defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  } catch {
    return undefined;
  }
}

/** Writes latency_<op>.svg per op and throughput.svg (each with a .png when resvg loads); returns the files written. */
export async function renderCharts(dir: string, ops: string[]): Promise<string[]> {
  const byOp = ops.map((op): [string, Row[]] => [op, readOpCsv(dir, op)]);
  const charts: [string, TopLevelSpec][] = [
    ...byOp.filter(([, rows]) => rows.some((r) => r.n! > 0)).map(([op, rows]): [string, TopLevelSpec] => [`latency_${op}`, latencySpec(op, rows)]),
    ['throughput', throughputSpec(byOp)],
  ];
  const png = await rasteriser();
  const written: string[] = [];
  for (const [name, spec] of charts) {
    const svg = await renderSvg(spec);
    writeFileSync(join(dir, `${name}.svg`), svg);
    written.push(`${name}.svg`);
    if (png) {
      writeFileSync(join(dir, `${name}.png`), png(svg));
      written.push(`${name}.png`);
    }
  }
  return written;
}
