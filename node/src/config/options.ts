/**
 * Every `rkv start` option (SPEC section 2) in one table. The CLI builds its
 * flags and help from it and config/load.ts resolves flag > env > file >
 * default from it, so an option is added in exactly one place.
 */
import { isIP } from 'node:net';
import type { NodeConfig, QuorumValue } from './node_config.js';

/**
 * Parses one raw value: a string from argv or env, or anything a config file
 * holds. `label` names where the value came from (`--ring-size`,
 * `RKV_RING_SIZE`, `rkv.yaml: ring-size`) so the error points at it.
 */
export type Parser<T> = (raw: unknown, label: string) => T;

interface OptionSpec<T> {
  /** value placeholder for help; absent for boolean switches */
  arg?: string;
  description: string;
  default: T | undefined;
  /** help text for defaults that are derived from other options or unset */
  defaultText?: string;
  parse: Parser<T>;
}

export interface StartOption<T = unknown> extends OptionSpec<T> {
  /** commander attribute name and canonical config-file key, e.g. ringSize */
  key: string;
  /** e.g. --ring-size; also accepted as a config-file key without the dashes */
  flag: string;
  /** e.g. RKV_RING_SIZE */
  env: string;
}

/** Parsed option values before defaults derived from other options are filled in. */
export interface StartValues {
  config: string | undefined;
  name: string | undefined;
  bind: string;
  advertise: string | undefined;
  respPort: number;
  httpPort: number;
  clusterPort: number;
  dataDir: string;
  backend: NodeConfig['backend'];
  ringSize: number;
  nVal: number;
  r: QuorumValue;
  w: QuorumValue;
  pr: QuorumValue;
  pw: QuorumValue;
  dw: QuorumValue;
  clusterSecret: string | undefined;
  logLevel: NodeConfig['logLevel'];
  maxValueSize: number;
  requestTimeout: number;
  syncWrites: boolean;
  clusterName: string;
  requirepass: string | undefined;
}

export const MIB = 1024 * 1024;

// ---- parsers -------------------------------------------------------------

function show(raw: unknown): string {
  if (typeof raw === 'string') return raw === '' ? '""' : raw;
  return typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
}

function toInt(raw: unknown): number | undefined {
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
  if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) {
    const n = Number(raw);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

export function intIn(min: number, max: number): Parser<number> {
  return (raw, label) => {
    const n = toInt(raw);
    if (n === undefined || n < min || n > max) {
      throw new Error(`${label} must be an integer between ${min} and ${max}, got ${show(raw)}`);
    }
    return n;
  };
}

/** 0 asks the OS for an ephemeral port, which tests rely on. */
export const port = intIn(0, 65535);

export function powerOfTwo(min: number, max: number): Parser<number> {
  return (raw, label) => {
    const n = toInt(raw);
    if (n === undefined || n < min || n > max || (n & (n - 1)) !== 0) {
      throw new Error(`${label} must be a power of two between ${min} and ${max}, got ${show(raw)}`);
    }
    return n;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return (raw, label) => {
    const v = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
    if (!values.includes(v as T)) {
      throw new Error(`${label} must be one of ${values.join(', ')}, got ${show(raw)}`);
    }
    return v as T;
  };
}

const QUORUM_NAMES = ['one', 'quorum', 'all'] as const;

/** The upper bound (n_val) is checked in load.ts once n_val is known. */
export function quorum(min: number): Parser<QuorumValue> {
  return (raw, label) => {
    const n = toInt(raw);
    if (n !== undefined && n >= min) return n;
    const v = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
    if (QUORUM_NAMES.includes(v as (typeof QUORUM_NAMES)[number])) return v as QuorumValue;
    throw new Error(`${label} must be an integer >= ${min} or one of ${QUORUM_NAMES.join(', ')}, got ${show(raw)}`);
  };
}

export const bool: Parser<boolean> = (raw, label) => {
  if (typeof raw === 'boolean') return raw;
  const v = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (v === 'true' || v === '1' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false;
  throw new Error(`${label} must be true or false, got ${show(raw)}`);
};

// Redis conventions: k/m/g are decimal, kb/mb/gb (and kib/mib/gib) binary.
const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1024, kib: 1024,
  m: 1e6, mb: MIB, mib: MIB,
  g: 1e9, gb: 1024 * MIB, gib: 1024 * MIB,
};

export function parseSize(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : undefined;
}

export function size(min: number, max: number, maxText: string): Parser<number> {
  return (raw, label) => {
    const n = parseSize(raw);
    if (n === undefined || n < min || n > max) {
      throw new Error(`${label} must be a size like 1048576, 64kb or 16mb, between ${min} and ${maxText}, got ${show(raw)}`);
    }
    return n;
  };
}

export const text: Parser<string> = (raw, label) => {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new Error(`${label} must be a non-empty string, got ${show(raw)}`);
  }
  return raw;
};

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

export const host: Parser<string> = (raw, label) => {
  const v = typeof raw === 'string' ? raw.trim() : '';
  if (isIP(v) === 0 && !HOSTNAME.test(v)) {
    throw new Error(`${label} must be an IP address or host name, got ${show(raw)}`);
  }
  return v;
};

export const nodeName: Parser<string> = (raw, label) => {
  if (typeof raw !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(raw)) {
    throw new Error(`${label} must look like name@host, got ${show(raw)}`);
  }
  return raw;
};

const identifier: Parser<string> = (raw, label) => {
  if (typeof raw !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(raw)) {
    throw new Error(`${label} must be letters, digits, '.', '_' or '-', got ${show(raw)}`);
  }
  return raw;
};

// ---- the table -----------------------------------------------------------

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

type Table = { [K in keyof StartValues]: OptionSpec<StartValues[K]> };

const TABLE: Table = {
  config: { arg: '<file>', default: undefined, defaultText: 'none', parse: text,
    description: 'YAML or JSON file of options, keyed by flag name (ring-size or ringSize)' },
  name: { arg: '<name@host>', default: undefined, defaultText: 'rkv@<advertise>', parse: nodeName,
    description: 'node identity in the ring; keep it stable across restarts' },
  bind: { arg: '<addr>', default: '127.0.0.1', parse: host,
    description: 'listen address for all listeners' },
  advertise: { arg: '<host>', default: undefined, defaultText: 'bind address (host name if bind is 0.0.0.0 or ::)', parse: host,
    description: 'host other nodes use to reach this one (pod DNS name in Kubernetes)' },
  respPort: { arg: '<port>', default: 6379, parse: port,
    description: 'Redis-protocol (RESP2/RESP3) listener; 0 picks a free port' },
  httpPort: { arg: '<port>', default: 8098, parse: port,
    description: 'HTTP API, admin API and /metrics; 0 picks a free port' },
  clusterPort: { arg: '<port>', default: 8099, parse: port,
    description: 'node-to-node transport (requests, gossip, handoff); 0 picks a free port' },
  dataDir: { arg: '<dir>', default: './data', parse: text,
    description: 'ring state, RocksDB data and metadata' },
  backend: { arg: '<backend>', default: 'rocksdb', parse: oneOf(['rocksdb', 'memory'] as const),
    description: 'storage backend: rocksdb or memory' },
  ringSize: { arg: '<n>', default: 64, parse: powerOfTwo(8, 1024),
    description: 'partitions at cluster creation; power of two, 8..1024' },
  nVal: { arg: '<n>', default: 3, parse: intIn(1, 1024),
    description: 'default bucket n_val: replicas per key (at most the ring size)' },
  r: { arg: '<quorum>', default: 'quorum', parse: quorum(1),
    description: 'default bucket r: integer <= n_val, one, quorum or all' },
  w: { arg: '<quorum>', default: 'quorum', parse: quorum(1),
    description: 'default bucket w: integer <= n_val, one, quorum or all' },
  pr: { arg: '<quorum>', default: 0, parse: quorum(0),
    description: 'default bucket pr (primary replicas for reads)' },
  pw: { arg: '<quorum>', default: 0, parse: quorum(0),
    description: 'default bucket pw (primary replicas for writes)' },
  dw: { arg: '<quorum>', default: 'quorum', parse: quorum(0),
    description: 'default bucket dw (durable writes)' },
  clusterSecret: { arg: '<secret>', default: undefined, defaultText: 'none', parse: text,
    description: 'shared secret; when set, peers must prove it' },
  logLevel: { arg: '<level>', default: 'info', parse: oneOf(LOG_LEVELS),
    description: `structured JSON logs on stdout: ${LOG_LEVELS.join(', ')}` },
  maxValueSize: { arg: '<size>', default: 16 * MIB, defaultText: '16mb', parse: size(1, 512 * MIB, '512mb'),
    description: 'largest value accepted over RESP and HTTP (bytes, or 64kb, 16mb, ...)' },
  requestTimeout: { arg: '<ms>', default: 5000, parse: intIn(1, 3_600_000),
    description: 'per-request timeout of reads and writes, in milliseconds' },
  syncWrites: { default: false, parse: bool,
    description: 'fsync the RocksDB write-ahead log on every write' },
  clusterName: { arg: '<name>', default: 'rkv', parse: identifier,
    description: 'cluster name; nodes of different clusters refuse to talk' },
  requirepass: { arg: '<password>', default: undefined, defaultText: 'none', parse: text,
    description: 'password RESP clients must send with AUTH' },
};

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function named(table: Table): { [K in keyof StartValues]: StartOption<StartValues[K]> } {
  const out: Record<string, StartOption> = {};
  for (const [key, spec] of Object.entries(table) as [string, OptionSpec<unknown>][]) {
    const flag = `--${kebab(key)}`;
    out[key] = { ...spec, key, flag, env: `RKV_${kebab(key).replace(/-/g, '_').toUpperCase()}` };
  }
  return out as { [K in keyof StartValues]: StartOption<StartValues[K]> };
}

export const START_OPTIONS = named(TABLE);

export const START_OPTION_LIST: readonly StartOption[] = Object.values(START_OPTIONS);
