import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { NodeConfig } from './config/node_config.js';
import { Metrics } from './api/metrics.js';
import { openBackend } from './backend/open.js';
import type { Backend } from './backend/backend.js';
import { freshRing, ownership, type Member, type Ring } from './ring/ring.js';
import { loadRing, saveRing } from './ring/ring_store.js';
import { VnodeManager } from './vnode/manager.js';
import { VnodeService } from './vnode/vnode_service.js';
import { HandoffManager } from './vnode/handoff_manager.js';
import { registerHandoffReceiver } from './vnode/handoff_receiver.js';
import { BucketRegistry } from './kv/buckets.js';
import { KvService } from './kv/service.js';
import { CoverageCoordinator } from './coverage/coordinator.js';
import { createPageFolder, registerFoldHandler } from './coverage/fold.js';
import { RespServer } from './api/resp/server.js';
import { createHttpApp } from './api/http/app.js';
import { listenHttp } from './api/http/server.js';
import type { AdminApi } from './api/http/admin_api.js';
import { Transport } from './cluster/transport.js';
import { RingManager } from './cluster/ring_manager.js';
import { clusterAdmin } from './cluster/admin.js';
import { loadIdentity, markCleanShutdown, prepareDataDir } from './node_identity.js';

export interface NodeDeps {
  logger?: Logger;
  /** wall clock in ms; injected so tests control expiry and last-modified */
  now?: () => number;
  /** gossip and handoff scheduling, ms (tests shorten them) */
  gossipIntervalMs?: number;
  handoffTickMs?: number;
}

export interface RkvNode {
  readonly name: string;
  readonly addresses: { resp: string; http: string; cluster: string };
  readonly kv: KvService;
  readonly metrics: Metrics;
  readonly ring: RingManager;
  stop(): Promise<void>;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function loadOrCreateRing(cfg: NodeConfig, self: Member): Promise<Ring> {
  const saved = await loadRing(cfg.dataDir);
  if (saved) {
    if (saved.createdRingSize !== cfg.ringSize) {
      throw new Error(`data dir ${cfg.dataDir} was created with ring size ${saved.createdRingSize}, not ${cfg.ringSize}`);
    }
    if (!saved.members[cfg.name]) throw new Error(`data dir ${cfg.dataDir} belongs to another node (its ring does not list ${cfg.name})`);
    // our addresses may have changed across restarts (ports, pod IPs): the ring manager has the
    // claimant record the current ones (a new ring version), or peers would keep dialling the old
    return saved;
  }
  const ring = freshRing(randomBytes(8).toString('hex'), cfg.clusterName, self, cfg.ringSize);
  await saveRing(cfg.dataDir, ring);
  return ring;
}

/**
 * Composes a storage node: data dir, ring, backend, vnodes, transport, gossip,
 * handoff, coordinators and the client listeners. Everything that touches the
 * outside world is wired here; the parts it joins are pure or injected.
 */
export async function startNode(cfg: NodeConfig, deps: NodeDeps = {}): Promise<RkvNode> {
  const logger = deps.logger ?? pino({ level: cfg.logLevel });
  const now = deps.now ?? Date.now;
  const startedAt = now();
  await prepareDataDir(cfg.dataDir);
  const identity = await loadIdentity(cfg.dataDir, { keepsData: cfg.backend !== 'memory' });
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: Error) => logger.error({ err: e.message }, 'shutdown step failed'));
  };
  try {
    const metrics = new Metrics();
    const transport = new Transport({
      nodeName: cfg.name,
      clusterName: cfg.clusterName,
      ...(cfg.clusterSecret ? { secret: cfg.clusterSecret } : {}),
      logger: logger.child({ component: 'transport' }),
      requestTimeoutMs: cfg.requestTimeoutMs,
    });
    const clusterBound = await transport.listen(cfg.clusterPort, cfg.bind);
    cleanups.push(() => transport.close());

    // Listeners are bound before the ring is written, so the ring can carry our real ports.
    const httpPlaceholder = { port: cfg.httpPort };
    const self: Member = {
      name: cfg.name,
      status: 'valid',
      clusterAddress: hostPort(cfg.advertise, clusterBound.port),
      httpAddress: hostPort(cfg.advertise, httpPlaceholder.port),
    };
    const initialRing = await loadOrCreateRing(cfg, self);
    const backend: Backend = await openBackend(cfg.backend, cfg.dataDir, { sync: cfg.syncWrites });
    // runs after the close below (cleanups run in reverse), and only when it succeeded
    let closed = false;
    const started: { vnodes?: VnodeManager } = {};
    cleanups.push(async () => {
      if (!closed) return;
      started.vnodes?.recordActors();
      await markCleanShutdown(cfg.dataDir, identity);
    });
    cleanups.push(async () => {
      await backend.close();
      closed = true;
    });
    // peers must stop reaching our vnodes before the backend closes (close is idempotent)
    cleanups.push(() => transport.close());

    const ringManager = new RingManager(initialRing, {
      dataDir: cfg.dataDir,
      self,
      transport,
      logger: logger.child({ component: 'ring' }),
      onGossipRound: () => metrics.gossipRounds.inc(),
      ...(deps.gossipIntervalMs ? { gossipIntervalMs: deps.gossipIntervalMs } : {}),
    });
    const vnodes = new VnodeManager(backend, () => ringManager.current.ringSize, identity);
    started.vnodes = vnodes;
    const buckets = new BucketRegistry(() => ringManager.current.bucketProps, cfg.bucketDefaults, async (bucket, props) => {
      await ringManager.claimantOp({ op: 'bucket_props', bucket, props: { ...props } });
    });
    const lww = (bucket: Buffer) => {
      const p = buckets.get(bucket);
      return !p.allow_mult || p.last_write_wins;
    };
    const service = new VnodeService(vnodes, ringManager, transport, logger.child({ component: 'vnode' }), (bucket) => buckets.get(bucket).n_val, lww);
    registerHandoffReceiver({ transport, ring: ringManager, vnodes, lww, logger: logger.child({ component: 'handoff' }) });
    const handoff = new HandoffManager({
      ring: ringManager,
      transport,
      vnodes,
      service,
      metrics,
      logger: logger.child({ component: 'handoff' }),
      limit: 2,
      lww,
      nval: cfg.bucketDefaults.n_val,
      ...(deps.handoffTickMs ? { tickMs: deps.handoffTickMs } : {}),
    });

    // a peer not dialled yet counts as up (the request dials it), or a fresh node would use fallbacks on itself alone
    const isUp = (node: string) => node === cfg.name || !transport.isDown(node);
    // asked on every request: rebuilt only when the ring or some peer's up/down state changed
    let upCache: { ring: Ring; epoch: number; up: ReadonlySet<string> } | undefined;
    const upNodes = (): ReadonlySet<string> => {
      const ring = ringManager.current;
      if (upCache?.ring !== ring || upCache.epoch !== transport.downEpoch) {
        upCache = { ring, epoch: transport.downEpoch, up: new Set(Object.keys(ring.members).filter(isUp)) };
      }
      return upCache.up;
    };
    const observeRing = (r: Ring) => {
      metrics.ringSize.set(r.ringSize);
      metrics.ringOwnership.reset();
      for (const [member, share] of ownership(r.owners, Object.keys(r.members))) metrics.ringOwnership.set({ node: member }, share);
      metrics.vnodes.set({ type: 'primary' }, r.owners.filter((o) => o === cfg.name).length);
      metrics.ringVersion.set(r.version);
      metrics.pendingTransfers.set(r.next.length);
    };
    observeRing(initialRing);
    ringManager.onChange((r) => observeRing(r));

    const localFold = createPageFolder(vnodes, now);
    registerFoldHandler(transport, localFold);
    const coverage = new CoverageCoordinator({
      ring: () => ringManager.current,
      up: upNodes,
      self: cfg.name,
      transport,
      localFold,
      nval: (bucket) => buckets.get(bucket).n_val,
      timeoutMs: cfg.requestTimeoutMs,
    });
    const kv = new KvService({
      self: cfg.name,
      ring: () => ringManager.current,
      upNodes,
      router: service.router(),
      buckets,
      metrics,
      now,
      timeoutMs: cfg.requestTimeoutMs,
      count: async (bucket) => (await coverage.fold(bucket)).count,
      scan: async (bucket, cursor, count, match) => {
        const page = await coverage.scan(bucket, cursor, count);
        return match ? { cursor: page.cursor, keys: page.keys.filter(match) } : page;
      },
    });

    let ready = false;
    const cluster = clusterAdmin({ ring: ringManager, transport, handoff, vnodes, isUp, ringSize: () => ringManager.current.ringSize });
    const admin: AdminApi = {
      ...cluster,
      keys: async (bucket, q = {}) => {
        const r = await coverage.fold(Buffer.from(bucket, 'utf8'), { ...q, withKeys: true });
        return { keys: r.keys.map((k) => k.toString('utf8')), partial: r.partial };
      },
      count: async (bucket, q = {}) => {
        const r = await coverage.fold(Buffer.from(bucket, 'utf8'), q);
        return {
          count: r.estimate ?? r.count,
          partial: r.partial,
          vnodes: r.vnodes,
          ...(r.estimate !== undefined ? { sampled: true, sampledCount: r.count } : {}),
          objects: { count: r.count, totalBytes: r.bytes, meanBytes: r.count ? Math.round(r.bytes / r.count) : 0, maxBytes: r.maxBytes },
        };
      },
    };

    let respAddr = '';
    const info = () => ({
      server: {
        rkv_version: '0.1.0',
        redis_version: '7.0.0-rkv',
        process_id: process.pid,
        tcp_port: Number(respAddr.split(':').pop()),
        uptime_in_seconds: Math.floor((now() - startedAt) / 1000),
        node: cfg.name,
        ring_size: ringManager.current.ringSize,
        backend: backend.name,
      },
    });
    const resp = new RespServer({ kv, metrics, logger: logger.child({ api: 'resp' }), maxValueSize: cfg.maxValueSize, ...(cfg.requirePass ? { requirePass: cfg.requirePass } : {}), info, now });
    const respBound = await resp.listen(cfg.respPort, cfg.bind);
    respAddr = hostPort(cfg.bind, respBound.port);
    cleanups.push(() => resp.close());

    const app = createHttpApp({
      kv,
      admin,
      metrics,
      logger: logger.child({ api: 'http' }),
      maxValueSize: cfg.maxValueSize,
      isReady: () => ready,
      now,
      stats: () => ({ node: cfg.name, ring_size: ringManager.current.ringSize, vnodes: vnodes.running, backend: backend.name, uptime_s: Math.floor((now() - startedAt) / 1000), transport: transport.stats }),
    });
    const http = await listenHttp(app, cfg.httpPort, cfg.bind);
    cleanups.push(() => http.close());
    const httpAddr = hostPort(cfg.advertise, http.address.port);
    // the ring manager records it in the ring (with our cluster address) from its first gossip round
    (self as { httpAddress: string }).httpAddress = httpAddr;

    ringManager.start();
    cleanups.push(async () => ringManager.stop());
    handoff.start();
    cleanups.push(() => handoff.stop());

    metrics.compactionStats = () => backend.compactionStats?.();
    const sizeTimer = setInterval(() => {
      backend.approximateSize().then((b) => metrics.backendSize.set({ backend: backend.name }, b), () => undefined);
    }, 10_000);
    sizeTimer.unref();
    cleanups.push(async () => clearInterval(sizeTimer));

    ready = true;
    const addresses = { resp: respAddr, http: hostPort(cfg.bind, http.address.port), cluster: hostPort(cfg.bind, clusterBound.port) };
    logger.debug({ ...addresses, ringSize: ringManager.current.ringSize, backend: backend.name, dataDir: cfg.dataDir }, 'rkv node ready');
    let stopping: Promise<void> | undefined;
    return {
      name: cfg.name,
      addresses,
      kv,
      metrics,
      ring: ringManager,
      stop: () => {
        stopping ??= (async () => {
          ready = false;
          logger.info({ node: cfg.name }, 'rkv node stopping');
          await cleanup();
          await ringManager.flushed();
        })();
        return stopping;
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
