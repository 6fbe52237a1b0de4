/**
 * rkv clusters in containers for the container tier: one private Docker network
 * per cluster, a named volume per node on /data, fixed host ports (so clients
 * reconnect to the same port after a restart), joins through the admin API,
 * bounded waits that fail with the last state seen, nemesis operations
 * (kill -9, graceful stop, start, pause, network partitions) and clean-up of
 * everything a test created, also after a crash of an earlier run.
 *
 * Nodes find each other by their alias on the private network (Docker's DNS);
 * testcontainers also leaves each container on the default bridge, which has
 * no DNS: the published ports go through it, so clients reach a node even
 * while a partition has moved it off the private network.
 */
import './env.js';
import { freePort as freePortOn } from '../support/free_port.js';
import { http } from './http.js';
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from 'testcontainers';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const OWNER = String(process.pid);
const LABEL_OWNER = 'rkv.test.owner';
const LABEL_NETWORK = 'rkv.test.network';

const log = (msg: string) => process.stderr.write(`containers: ${msg}\n`);

async function dockerode() {
  return (await getContainerRuntimeClient()).container.dockerode;
}

/** A host port nobody listens on (docker publishes on 0.0.0.0). */
export const freePort = (): Promise<number> => freePortOn('0.0.0.0');

/**
 * Polls `probe` until it returns a value other than undefined, or fails after
 * `timeoutMs` with `what` and the last state `probe` reported through `seen`.
 */
export async function waitFor<T>(what: string, probe: (seen: (state: unknown) => void) => Promise<T | undefined>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = '(nothing observed)';
  const seen = (s: unknown) => (last = s);
  for (;;) {
    try {
      const v = await probe(seen);
      if (v !== undefined) return v;
    } catch (e) {
      last = `error: ${(e as Error).message}`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last state: ${typeof last === 'string' ? last : JSON.stringify(last, null, 1)}`);
    await sleep(opts.intervalMs ?? 250);
  }
}

// ---- clean-up -----------------------------------------------------------------

const live = new Set<RkvCluster>();
let hooked = false;
function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void Promise.allSettled([...live].map((c) => c.destroy())).finally(() => process.exit(130));
    });
  }
}

function ownerAlive(pid: string | undefined): boolean {
  if (!pid || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what earlier runs of this tier left behind when their process died
 * (Ryuk is off): containers, networks and volumes labelled with an owner pid
 * that no longer runs. Another live run's resources are left alone.
 */
export async function removeLeftovers(): Promise<void> {
  const d = await dockerode();
  const containers = await d.listContainers({ all: true, filters: { label: [LABEL_OWNER] } });
  const networks = new Set<string>();
  for (const c of containers) {
    if (ownerAlive(c.Labels[LABEL_OWNER])) continue;
    for (const n of (c.Labels[LABEL_NETWORK] ?? '').split(',').filter(Boolean)) networks.add(n);
    await d.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  }
  for (const n of await d.listNetworks({ filters: { label: [LABEL_OWNER] } })) {
    if (!ownerAlive(n.Labels?.[LABEL_OWNER])) networks.add(n.Name);
  }
  for (const n of networks) await d.getNetwork(n).remove().catch(() => undefined);
  const vols = await d.listVolumes({ filters: { label: [LABEL_OWNER] } });
  for (const v of vols.Volumes ?? []) {
    if (!ownerAlive(v.Labels?.[LABEL_OWNER])) await d.getVolume(v.Name).remove().catch(() => undefined);
  }
}

// ---- admin API ---------------------------------------------------------------------

export interface MemberRow {
  name: string;
  status: string;
  ringPct: number;
  pendingPct: number;
  reachable: boolean;
}
export interface TransferRow {
  type: string;
  partition: number;
  from: string;
  to: string;
  status: string;
}
export type Transfers = { active: TransferRow[]; pending: TransferRow[]; unreachable: { node: string; error: string }[] };
export type VnodeStatus = { node: string; vnodes: { partition: number; owner: string; primary: boolean; entries: number }[] };

async function call<T>(url: string, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const res = await http(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    timeoutMs,
  });
  const text = res.body.toString('utf8');
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} -> ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

// ---- nodes ---------------------------------------------------------------------------

export interface ClusterOptions {
  image: string;
  /** number of nodes started at once (more can be added with addNode) */
  size: number;
  ringSize?: number;
  backend?: 'rocksdb' | 'memory';
  /** extra `rkv start` flags for every node */
  args?: string[];
  /** prefix of aliases and resource names, e.g. the scenario */
  label: string;
}

export class RkvNode {
  container: StartedTestContainer | undefined;
  /** the networks the container is attached to right now (by name) */
  networks = new Set<string>();

  constructor(
    readonly cluster: RkvCluster,
    readonly alias: string,
    readonly volume: string,
    readonly ports: { resp: number; http: number },
  ) {}

  /** rkv's default node name for `--advertise <alias>` */
  get name(): string {
    return `rkv@${this.alias}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  /** what another node is given to join: its cluster listener on the private network */
  get contact(): string {
    return `${this.alias}:8099`;
  }

  get id(): string {
    if (!this.container) throw new Error(`${this.alias} not started`);
    return this.container.getId();
  }

  api<T = unknown>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    return call<T>(this.url, method, path, body, timeoutMs);
  }

  memberStatus(): Promise<{ members: MemberRow[] }> {
    return this.api('GET', '/admin/member-status', undefined, 5000);
  }

  transfers(): Promise<Transfers> {
    return this.api('GET', '/admin/transfers', undefined, 5000);
  }

  vnodeStatus(): Promise<VnodeStatus> {
    return this.api('GET', '/admin/vnode-status', undefined, 5000);
  }

  async ready(): Promise<boolean> {
    const res = await http(`${this.url}/health/ready`, { timeoutMs: 2000 }).catch(() => undefined);
    return res?.status === 200;
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    await waitFor(`${this.alias} /health/ready`, async (seen) => {
      const ok = await this.ready();
      seen(ok ? 200 : 'not ready');
      return ok ? true : undefined;
    }, { timeoutMs, intervalMs: 100 });
  }

  /** Creates and starts the container; resolves once /health/ready answers 200. */
  async create(): Promise<void> {
    const c = this.cluster;
    const o = c.o;
    const container = new GenericContainer(o.image)
      .withNetwork(c.network)
      .withNetworkAliases(this.alias)
      .withHostname(this.alias)
      .withExposedPorts({ container: 6379, host: this.ports.resp }, { container: 8098, host: this.ports.http })
      .withBindMounts([{ source: this.volume, target: '/data' }])
      .withLabels({ [LABEL_OWNER]: OWNER, [LABEL_NETWORK]: c.networkNames().join(','), 'rkv.test.alias': this.alias })
      .withCommand(['start', '--advertise', this.alias, '--data-dir', '/data', '--ring-size', String(o.ringSize ?? 16), '--backend', o.backend ?? 'rocksdb', ...(o.args ?? [])])
      .withWaitStrategy(Wait.forHttp('/health/ready', 8098).forStatusCode(200))
      .withStartupTimeout(60_000);
    this.container = await container.start();
    this.networks = new Set([c.network.getName()]);
  }

  private async dockerContainer() {
    return (await dockerode()).getContainer(this.id);
  }

  /** kill -9 of the node process (docker kill -s KILL): no shutdown at all. */
  async kill(): Promise<void> {
    await (await this.dockerContainer()).kill({ signal: 'SIGKILL' });
    await waitFor(`${this.alias} to exit`, async () => ((await (await this.dockerContainer()).inspect()).State.Running ? undefined : true), { timeoutMs: 10_000, intervalMs: 100 });
  }

  /** docker stop: SIGTERM, SIGKILL after `graceS`. */
  async stop(graceS = 20): Promise<void> {
    await (await this.dockerContainer()).stop({ t: graceS }).catch((e: Error) => {
      if (!/already stopped|not running/i.test(e.message)) throw e;
    });
  }

  /** Starts the stopped container again (same volume, same host ports) and waits until ready. */
  async start(): Promise<void> {
    await (await this.dockerContainer()).start();
    await this.waitReady();
  }

  async pause(): Promise<void> {
    await (await this.dockerContainer()).pause();
  }

  async unpause(): Promise<void> {
    await (await this.dockerContainer()).unpause();
  }

  /** Moves the node to `to` (another network, keeping its alias): peers on the old one lose it. */
  async moveTo(to: string): Promise<void> {
    const d = await dockerode();
    for (const n of this.networks) await d.getNetwork(n).disconnect({ Container: this.id, Force: true });
    this.networks.clear();
    await d.getNetwork(to).connect({ Container: this.id, EndpointConfig: { Aliases: [this.alias] } });
    this.networks.add(to);
  }

  /** The last `lines` of the container's output. */
  async logs(lines = 60): Promise<string> {
    if (!this.container) return '';
    try {
      const stream = await this.container.logs({ tail: lines });
      const chunks: string[] = [];
      await new Promise<void>((resolve) => {
        stream.on('data', (d: Buffer | string) => chunks.push(d.toString()));
        stream.on('end', () => resolve());
        stream.on('error', () => resolve());
        setTimeout(resolve, 3000);
      });
      return chunks.join('');
    } catch (e) {
      return `(no logs: ${(e as Error).message})`;
    }
  }

  async remove(): Promise<void> {
    if (!this.container) return;
    const c = await this.dockerContainer();
    await c.unpause().catch(() => undefined);
    await c.remove({ force: true, v: true }).catch(() => undefined);
    this.container = undefined;
  }
}

export class RkvCluster {
  readonly nodes: RkvNode[] = [];
  network!: StartedNetwork;
  /** networks made for partitions, by name */
  private extraNetworks: string[] = [];
  private volumes: string[] = [];
  private next = 1;

  private constructor(readonly o: ClusterOptions) {}

  /** Starts `size` nodes on a new private network (not joined yet). */
  static async start(o: ClusterOptions): Promise<RkvCluster> {
    hookSignals();
    await removeLeftovers();
    const c = new RkvCluster(o);
    live.add(c);
    try {
      c.network = await new Network().start();
      await Promise.all(Array.from({ length: o.size }, () => c.addNode()));
    } catch (e) {
      await c.destroy();
      throw e;
    }
    return c;
  }

  networkNames(): string[] {
    return [this.network.getName(), ...this.extraNetworks];
  }

  /** Creates and starts one more node (n<i>), standalone until it joins. */
  async addNode(): Promise<RkvNode> {
    const i = this.next++;
    const alias = `n${i}`;
    const volume = `rkv-test-${this.o.label}-${alias}-${process.pid}-${Date.now().toString(36)}`;
    const d = await dockerode();
    await d.createVolume({ Name: volume, Labels: { [LABEL_OWNER]: OWNER } });
    this.volumes.push(volume);
    const node = new RkvNode(this, alias, volume, { resp: await freePort(), http: await freePort() });
    this.nodes.push(node);
    await node.create();
    return node;
  }

  node(alias: string): RkvNode {
    const n = this.nodes.find((x) => x.alias === alias);
    if (!n) throw new Error(`no node ${alias}`);
    return n;
  }

  /** A bridge network for partitions, removed with the cluster. */
  async createNetwork(suffix: string): Promise<string> {
    const name = `${this.network.getName()}-${suffix}`;
    const d = await dockerode();
    await d.createNetwork({ Name: name, Driver: 'bridge', Labels: { [LABEL_OWNER]: OWNER } });
    this.extraNetworks.push(name);
    return name;
  }

  /** Joins `joiners` to `seed` through the admin API, then plans and commits at the seed. */
  async join(seed: RkvNode, joiners: RkvNode[]): Promise<void> {
    for (const j of joiners) await j.api('POST', '/admin/cluster/join', { node: seed.contact });
    await seed.api('GET', '/admin/cluster/plan');
    await seed.api('POST', '/admin/cluster/commit');
  }

  /** Stages a leave of `leaver` at `via`, then plans and commits. */
  async leave(via: RkvNode, leaver: RkvNode): Promise<void> {
    await via.api('POST', '/admin/cluster/leave', { node: leaver.name });
    await via.api('GET', '/admin/cluster/plan');
    await via.api('POST', '/admin/cluster/commit');
  }

  /**
   * Waits until every node in `members` is ready and sees exactly them as
   * members, all valid and reachable, nothing pending, no transfer active or
   * pending anywhere, and no node holding data in a vnode it does not own
   * (fallbacks handed back). Two consecutive clean polls.
   */
  async waitConverged(members: RkvNode[] = this.nodes, timeoutMs = 90_000): Promise<void> {
    const want = members.map((n) => n.name).sort().join(',');
    let clean = 0;
    await waitFor(`cluster [${want}] to converge`, async (seen) => {
      const state: Record<string, unknown> = {};
      const ok = await (async () => {
        for (const n of members) {
          if (!(await n.ready())) return (state[n.alias] = 'not ready'), false;
          const ms = await n.memberStatus();
          state[n.alias] = ms.members.map((m) => `${m.name} ${m.status} ${m.ringPct}/${m.pendingPct}${m.reachable ? '' : ' unreachable'}`);
          if (ms.members.map((m) => m.name).sort().join(',') !== want) return false;
          if (!ms.members.every((m) => m.status === 'valid' && m.reachable && m.ringPct === m.pendingPct)) return false;
        }
        for (const n of members) {
          const t = await n.transfers();
          if (t.active.length + t.pending.length + t.unreachable.length > 0) return (state[`${n.alias} transfers`] = t), false;
        }
        for (const n of members) {
          const v = await n.vnodeStatus();
          const stray = v.vnodes.filter((x) => x.entries > 0 && (!x.primary || x.owner !== n.name));
          if (stray.length) return (state[`${n.alias} stray vnodes`] = stray), false;
        }
        return true;
      })();
      seen(state);
      clean = ok ? clean + 1 : 0;
      return clean >= 2 ? true : undefined;
    }, { timeoutMs, intervalMs: 500 });
  }

  /** The tail of every node's log, for failure messages. */
  async logs(lines = 40): Promise<string> {
    const parts = await Promise.all(this.nodes.map(async (n) => `--- ${n.alias}\n${await n.logs(lines)}`));
    return parts.join('\n');
  }

  /** Removes the containers, the networks and the volumes. */
  async destroy(): Promise<void> {
    live.delete(this);
    await Promise.allSettled(this.nodes.map((n) => n.remove()));
    const d = await dockerode();
    for (const n of this.extraNetworks) await d.getNetwork(n).remove().catch(() => undefined);
    if (this.network) await this.network.stop().catch(() => undefined);
    for (const v of this.volumes) await d.getVolume(v).remove().catch(() => undefined);
    log(`removed cluster ${this.o.label}`);
  }
}
