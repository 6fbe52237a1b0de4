/**
 * Turns flags, environment and config file into a validated NodeConfig with
 * precedence flag > env > file > default (SPEC section 2). loadConfig is pure
 * (env and file reader are passed in) so every rule is unit-testable;
 * loadConfigFromProcess is the thin wrapper that touches the real process.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import type { NodeConfig, QuorumValue } from './node_config.js';
import { START_OPTIONS, START_OPTION_LIST, type StartValues } from './options.js';

export type ReadFile = (path: string) => string;

export interface LoadOptions {
  /** used to advertise a reachable host when bind is a wildcard address */
  hostname?: string;
}

interface Resolved<T> {
  value: T;
  /** where the value came from, for error messages */
  label: string;
}

interface FileEntry {
  key: string;
  value: unknown;
}

/** `ring-size`, `ringSize` and `ring_size` all name the same option. */
function normalizeKey(key: string): string {
  return key.replace(/[-_]/g, '').toLowerCase();
}

const BY_FILE_KEY = new Map(
  START_OPTION_LIST.filter((o) => o.key !== 'config').map((o) => [normalizeKey(o.key), o.key]),
);

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}

function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return firstLine(err);
}

/** Reads the config file into option key -> entry, rejecting keys no option has. */
export function parseConfigFile(path: string, text: string): Map<string, FileEntry> {
  let doc: unknown;
  try {
    doc = parseYaml(text, { logLevel: 'error' });
  } catch (err) {
    throw new Error(`config file ${path} is not valid YAML or JSON: ${firstLine(err)}`);
  }
  const entries = new Map<string, FileEntry>();
  if (doc === null || doc === undefined) return entries;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error(`config file ${path} must be a mapping of option names to values`);
  }
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(doc)) {
    const option = BY_FILE_KEY.get(normalizeKey(key));
    if (option === undefined) {
      unknown.push(JSON.stringify(key));
      continue;
    }
    const seen = entries.get(option);
    if (seen) throw new Error(`config file ${path} sets ${option} twice (${seen.key} and ${key})`);
    entries.set(option, { key, value });
  }
  if (unknown.length > 0) {
    const s = unknown.length > 1 ? 's' : '';
    throw new Error(
      `config file ${path}: unknown key${s} ${unknown.join(', ')} (keys are rkv start flags without the dashes, e.g. ring-size or ringSize)`,
    );
  }
  return entries;
}

export function loadConfig(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  readFile: ReadFile,
  opts: LoadOptions = {},
): NodeConfig {
  const fromEnv = (name: string): string | undefined => {
    const v = env[name];
    // An empty variable is how shells and manifests usually "unset" one.
    return v === undefined || v === '' ? undefined : v;
  };

  const configPath = resolveWithout<'config'>('config');
  let file = new Map<string, FileEntry>();
  if (configPath.value !== undefined) {
    let contents: string;
    try {
      contents = readFile(configPath.value);
    } catch (err) {
      throw new Error(`cannot read config file ${configPath.value}: ${readFailure(err)}`);
    }
    file = parseConfigFile(configPath.value, contents);
  }

  function resolveWithout<K extends keyof StartValues>(key: K): Resolved<StartValues[K]> {
    const o = START_OPTIONS[key];
    if (flags[key] !== undefined) return { value: o.parse(flags[key], o.flag), label: o.flag };
    const e = fromEnv(o.env);
    if (e !== undefined) return { value: o.parse(e, o.env), label: o.env };
    return { value: o.default as StartValues[K], label: o.flag };
  }

  function get<K extends keyof StartValues>(key: K): Resolved<StartValues[K]> {
    const o = START_OPTIONS[key];
    const entry = file.get(key);
    if (flags[key] !== undefined || fromEnv(o.env) !== undefined || entry === undefined) {
      return resolveWithout(key);
    }
    const label = `${configPath.value}: ${entry.key}`;
    return { value: o.parse(entry.value, label), label };
  }

  const bind = get('bind').value;
  const advertise = get('advertise').value ?? defaultAdvertise(bind, opts.hostname);
  const ringSize = get('ringSize').value;
  const nVal = get('nVal');
  if (nVal.value > ringSize) {
    throw new Error(`${nVal.label} must be at most the ring size (${ringSize}), got ${nVal.value}`);
  }
  const q = (key: 'r' | 'w' | 'pr' | 'pw' | 'dw'): QuorumValue => {
    const { value, label } = get(key);
    if (typeof value === 'number' && value > nVal.value) {
      throw new Error(`${label} must be at most n_val (${nVal.value}), got ${value}`);
    }
    return value;
  };
  const ports = [get('respPort'), get('httpPort'), get('clusterPort')];
  checkDistinctPorts(ports);

  return {
    name: get('name').value ?? `rkv@${advertise}`,
    bind,
    advertise,
    respPort: ports[0]!.value,
    httpPort: ports[1]!.value,
    clusterPort: ports[2]!.value,
    dataDir: get('dataDir').value,
    backend: get('backend').value,
    ringSize,
    bucketDefaults: {
      n_val: nVal.value,
      r: q('r'),
      w: q('w'),
      pr: q('pr'),
      pw: q('pw'),
      dw: q('dw'),
      allow_mult: false,
      last_write_wins: false,
    },
    clusterSecret: get('clusterSecret').value,
    requirePass: get('requirepass').value,
    logLevel: get('logLevel').value,
    maxValueSize: get('maxValueSize').value,
    requestTimeoutMs: get('requestTimeout').value,
    syncWrites: get('syncWrites').value,
    clusterName: get('clusterName').value,
  };
}

/** Peers cannot dial 0.0.0.0, so a wildcard bind advertises the host name instead. */
function defaultAdvertise(bind: string, host: string | undefined): string {
  const wildcard = bind === '0.0.0.0' || bind === '::' || bind === '[::]';
  return wildcard && host ? host : bind;
}

function checkDistinctPorts(ports: Resolved<number>[]): void {
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      const a = ports[i]!;
      const b = ports[j]!;
      if (a.value !== 0 && a.value === b.value) {
        throw new Error(`${a.label} and ${b.label} are both ${a.value}; each listener needs its own port`);
      }
    }
  }
}

/** The I/O edge: real argv flags, process.env, the file system and host name. */
export function loadConfigFromProcess(flags: Record<string, unknown>): NodeConfig {
  return loadConfig(flags, process.env, (path) => readFileSync(path, 'utf8'), { hostname: hostname() });
}
