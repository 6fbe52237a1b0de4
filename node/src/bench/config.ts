/**
 * `rkv bench` settings: parsed from flags and an optional YAML file (flags
 * win), validated up front so a typo fails in milliseconds with a message
 * naming the flag, not minutes into a run.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const OP_NAMES = ['get', 'put', 'delete', 'get_own_puts', 'update'] as const;
export type OpName = (typeof OP_NAMES)[number];
export interface OpWeight {
  op: OpName;
  weight: number;
}

export const KEY_KINDS = ['uniform', 'pareto', 'sequential', 'partitioned'] as const;
export interface KeySpec {
  kind: (typeof KEY_KINDS)[number];
  n: number;
}

export type ValueSpec = { kind: 'fixed'; bytes: number } | { kind: 'random'; min: number; max: number };
export type Protocol = 'resp' | 'http';

export interface BenchConfig {
  targets: string[];
  protocol: Protocol;
  ops: OpWeight[];
  keys: KeySpec;
  valueSize: ValueSpec;
  workers: number;
  durationMs: number;
  /** total operations per second over all workers, or as fast as the targets answer */
  rate: number | 'max';
  out: string;
  seed: number;
  reportIntervalMs: number;
  shutdownOnError: boolean;
  /** HTTP bucket; RESP keys always live in the bucket `default` */
  bucket: string;
  timeoutMs: number;
  charts: boolean;
}

/** What the command line gives (commander's camelCase names); all optional so the file can fill gaps. */
export interface BenchFlags {
  config?: string;
  targets?: string;
  protocol?: string;
  ops?: string;
  keys?: string;
  valueSize?: string;
  workers?: string;
  duration?: string;
  rate?: string;
  out?: string;
  seed?: string;
  reportInterval?: string;
  shutdownOnError?: boolean;
  bucket?: string;
  timeout?: string;
  charts?: boolean;
}

type SettingName = Exclude<keyof BenchFlags, 'config'>;
const SETTINGS: Record<SettingName, string> = {
  targets: '--targets', protocol: '--protocol', ops: '--ops', keys: '--keys', valueSize: '--value-size',
  workers: '--workers', duration: '--duration', rate: '--rate', out: '--out', seed: '--seed',
  reportInterval: '--report-interval', shutdownOnError: '--shutdown-on-error', bucket: '--bucket',
  timeout: '--timeout', charts: '--charts',
};

export class BenchConfigError extends Error {}

function fail(flag: string, msg: string): never {
  throw new BenchConfigError(`${flag}: ${msg}`);
}

export function parseDuration(s: string, flag = '--duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'] : NaN;
  if (!(ms > 0)) fail(flag, `expected a positive duration like 60s, 5m, 1h or 500ms, got "${s}"`);
  return Math.round(ms);
}

function positiveInt(s: string, flag: string, what: string): number {
  if (!/^\d+$/.test(s.trim()) || Number(s) < 1 || !Number.isSafeInteger(Number(s))) fail(flag, `${what} must be a positive integer, got "${s}"`);
  return Number(s);
}

export function parseOps(s: string): OpWeight[] {
  const out: OpWeight[] = [];
  for (const part of s.split(',').map((p) => p.trim())) {
    if (!part) fail('--ops', `expected op:weight[,op:weight...] such as get:4,put:1, got "${s}"`);
    const [name, weight, extra] = part.split(':');
    if (extra !== undefined) fail('--ops', `expected op:weight, got "${part}"`);
    if (!(OP_NAMES as readonly string[]).includes(name!)) fail('--ops', `unknown operation "${name}" (known: ${OP_NAMES.join(', ')})`);
    const op = name as OpName;
    if (out.some((o) => o.op === op)) fail('--ops', `operation "${op}" given twice`);
    out.push({ op, weight: weight === undefined ? 1 : positiveInt(weight, '--ops', `the weight of "${op}"`) });
  }
  return out;
}

export function parseKeys(s: string): KeySpec {
  const m = /^([a-z_]+):(.*)$/.exec(s.trim());
  const kind = m?.[1] as KeySpec['kind'] | undefined;
  if (!m || !kind || !KEY_KINDS.includes(kind)) fail('--keys', `expected ${KEY_KINDS.join('|')}:N such as uniform:100000, got "${s}"`);
  return { kind, n: positiveInt(m[2]!, '--keys', 'the key count N') };
}

export function parseValueSize(s: string): ValueSpec {
  const fixed = /^fixed:(\d+)$/.exec(s.trim());
  if (fixed) return { kind: 'fixed', bytes: Number(fixed[1]) };
  const random = /^random:(\d+)-(\d+)$/.exec(s.trim());
  if (!random) fail('--value-size', `expected fixed:BYTES or random:MIN-MAX such as fixed:100, got "${s}"`);
  const [min, max] = [Number(random[1]), Number(random[2])];
  if (min > max) fail('--value-size', `MIN must not exceed MAX, got "${s}"`);
  return { kind: 'random', min, max };
}

export function parseRate(s: string): number | 'max' {
  if (s.trim() === 'max') return 'max';
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(s.trim());
  if (!m || !(Number(m[1]) > 0)) fail('--rate', `expected max or N/s (total operations per second) such as 500/s, got "${s}"`);
  return Number(m[1]);
}

export function parseTargets(s: string, protocol: Protocol): string[] {
  const defaultPort = protocol === 'resp' ? 6379 : 8098;
  return s.split(',').map((t) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)(?::(\d+))?$/.exec(t.trim());
    const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
    if (!m || !(port >= 1 && port <= 65535)) fail('--targets', `expected host:port[,host:port...], got "${t}"`);
    return `${m[1]}:${port}`;
  });
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** YAML may use the flag's spelling (value-size), snake_case or camelCase; lists and maps are accepted where natural. */
export function readConfigFile(file: string): Partial<Record<SettingName, string | boolean>> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new BenchConfigError(`--config: cannot read ${file}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new BenchConfigError(`--config: ${file} must hold a mapping of settings`);
  const out: Partial<Record<SettingName, string | boolean>> = {};
  for (const [rawKey, v] of Object.entries(doc)) {
    const key = rawKey.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(key in SETTINGS)) throw new BenchConfigError(`--config: unknown setting "${rawKey}" in ${file}`);
    const name = key as SettingName;
    if (typeof v === 'boolean') out[name] = v;
    else if (Array.isArray(v)) out[name] = v.map(String).join(',');
    else if (v !== null && typeof v === 'object') out[name] = Object.entries(v).map(([op, w]) => `${op}:${String(w)}`).join(',');
    else out[name] = String(v);
  }
  return out;
}

export function resolveConfig(flags: BenchFlags, now: Date = new Date()): BenchConfig {
  const merged: Partial<Record<SettingName, string | boolean>> = flags.config ? readConfigFile(flags.config) : {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) if (flags[name] !== undefined) merged[name] = flags[name];
  const str = (name: SettingName, def: string): string => {
    const v = merged[name];
    if (typeof v === 'boolean') fail(SETTINGS[name], `expected a value, got ${String(v)}`);
    return v ?? def;
  };
  const bool = (name: SettingName, def: boolean): boolean => {
    const v = merged[name];
    if (v === undefined || typeof v === 'boolean') return v ?? def;
    if (v === 'true' || v === 'false') return v === 'true';
    fail(SETTINGS[name], `expected true or false, got "${v}"`);
  };

  const protocol = str('protocol', 'resp');
  if (protocol !== 'resp' && protocol !== 'http') fail('--protocol', `expected resp or http, got "${protocol}"`);
  const workers = positiveInt(str('workers', '8'), '--workers', 'the worker count');
  const keys = parseKeys(str('keys', 'uniform:10000'));
  if (keys.kind === 'partitioned' && keys.n < workers) fail('--keys', `partitioned:${keys.n} gives some of the ${workers} workers no keys; use N >= --workers`);
  const seedText = str('seed', String(Math.floor(Math.random() * 2 ** 32)));
  if (!/^\d+$/.test(seedText) || Number(seedText) >= 2 ** 32) fail('--seed', `expected an integer from 0 to 4294967295, got "${seedText}"`);
  const bucket = str('bucket', 'default');
  if (!bucket) fail('--bucket', 'must not be empty');
  const out = str('out', `bench-results/${timestamp(now)}`);
  if (!out) fail('--out', 'must not be empty');
  return {
    targets: parseTargets(str('targets', protocol === 'resp' ? '127.0.0.1:6379' : '127.0.0.1:8098'), protocol),
    protocol,
    ops: parseOps(str('ops', 'get:4,put:1')),
    keys,
    valueSize: parseValueSize(str('valueSize', 'fixed:100')),
    workers,
    durationMs: parseDuration(str('duration', '60s')),
    rate: parseRate(str('rate', 'max')),
    out,
    seed: Number(seedText),
    reportIntervalMs: parseDuration(str('reportInterval', '1s'), '--report-interval'),
    shutdownOnError: bool('shutdownOnError', false),
    bucket,
    timeoutMs: parseDuration(str('timeout', '5s'), '--timeout'),
    charts: bool('charts', true),
  };
}
