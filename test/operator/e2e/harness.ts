import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../support/free_port.js';
import { Redis } from 'ioredis';
import type { Event } from 'kubernetes-types/core/v1.js';
import { API_VERSION, KIND, type RkvCluster, type RkvClusterSpec } from '../../../operator/src/crd/spec.js';
import { R } from '../../../operator/src/k8s/resources.js';
import { OPERATOR_MAIN, OPERATOR_NAMESPACE, type StandIn } from '../apiserver/index.js';

/**
 * Operator e2e helpers: the operator binary as a child process against the
 * stand-in, RkvCluster CRUD through the stand-in's REST API, bounded waits
 * that report the last state seen, and keys through RESP on a pod's address.
 */
export const NS = 'default';
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export { freePort };

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, describeState?: () => Promise<unknown>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      const state = describeState ? await describeState().catch((e: Error) => e.message) : last;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last state: ${JSON.stringify(state, null, 1)}`);
    }
    await sleep(250);
  }
}

export class OperatorProcess {
  child: ChildProcess | undefined;
  log = '';
  metricsPort = 0;

  constructor(
    private readonly env: StandIn,
    readonly identity: string,
  ) {}

  async start(extra: string[] = []): Promise<this> {
    this.metricsPort = await freePort();
    const args = [OPERATOR_MAIN, '--kubeconfig', this.env.operatorKubeconfig, '--pod-address', 'ip', '--lease-namespace', OPERATOR_NAMESPACE,
      '--identity', this.identity, '--metrics-addr', `127.0.0.1:${this.metricsPort}`, '--resync', '10', '--log-level', 'info', ...extra];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAMESPACE: OPERATOR_NAMESPACE } });
    this.child = child;
    const add = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-200_000);
    };
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    return this;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    return res.text();
  }

  tail(chars = 4000): string {
    return this.log.slice(-chars);
  }
}

export async function clusterSpec(overrides: Partial<RkvClusterSpec> = {}): Promise<Partial<RkvClusterSpec>> {
  return {
    replicas: 3,
    ring: { size: 16, autoResize: false },
    backend: 'memory',
    ports: { resp: await freePort(), http: await freePort(), cluster: await freePort() },
    logLevel: 'warn',
    ...overrides,
  };
}

export function createCluster(env: StandIn, name: string, spec: Partial<RkvClusterSpec>): Promise<RkvCluster> {
  return env.admin.create<RkvCluster>(R.rkvcluster, NS, { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: NS }, spec });
}

export async function getCluster(env: StandIn, name: string): Promise<RkvCluster> {
  const c = await env.admin.get<RkvCluster>(R.rkvcluster, NS, name);
  if (!c) throw new Error(`RkvCluster ${name} not found`);
  return c;
}

export function patchSpec(env: StandIn, name: string, spec: Partial<RkvClusterSpec>): Promise<RkvCluster> {
  return env.admin.mergePatch<RkvCluster>(R.rkvcluster, NS, name, { spec });
}

export function summary(c: RkvCluster): unknown {
  const s = c.status;
  return { phase: s?.phase, op: s?.operation, members: s?.members?.map((m) => `${m.name.split('.')[0]} ${m.status} ${m.ringPct}%`), ring: s?.ring, message: s?.message, ready: s?.readyReplicas };
}

/** Waits for phase Running, Available=True and exactly `replicas` valid members. */
export function waitRunning(env: StandIn, name: string, replicas: number, timeoutMs = 90_000): Promise<RkvCluster> {
  return waitFor(`${name} Running with ${replicas} members`, async () => {
    const c = await getCluster(env, name);
    const s = c.status;
    const available = s?.conditions?.find((x) => x.type === 'Available')?.status === 'True';
    const ok = s?.phase === 'Running' && available && s.members?.length === replicas && s.members.every((m) => m.status === 'valid') && !s.operation && s.observedGeneration === c.metadata.generation;
    return ok ? c : undefined;
  }, timeoutMs, async () => summary(await getCluster(env, name)));
}

export async function events(env: StandIn, name: string): Promise<Event[]> {
  const list = await env.admin.list<Event>(R.event, NS);
  return list.items.filter((e) => e.involvedObject.name === name);
}

export function redis(env: StandIn, pod: string, port: number): Redis {
  return new Redis({ host: env.kubelet.podIp(NS, pod), port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5000, commandTimeout: 10_000 });
}

export async function writeKeys(r: Redis, from: number, to: number): Promise<void> {
  await r.connect();
  try {
    const p = r.pipeline();
    for (let i = from; i <= to; i++) p.set(`k${i}`, `v${i}`);
    for (const [err] of (await p.exec()) ?? []) if (err) throw err;
  } finally {
    r.disconnect();
  }
}

export async function missingKeys(r: Redis, from: number, to: number): Promise<string[]> {
  await r.connect();
  try {
    const keys: string[] = [];
    for (let i = from; i <= to; i++) keys.push(`k${i}`);
    const vals = await r.mget(...keys);
    return keys.filter((k, i) => vals[i] !== `v${k.slice(1)}`);
  } finally {
    r.disconnect();
  }
}
