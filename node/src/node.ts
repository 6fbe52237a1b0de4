import { pino, type Logger } from 'pino';
import type { NodeConfig } from './config/node_config.js';
import { Metrics } from './api/metrics.js';
import { openBackend } from './backend/open.js';
import type { Backend } from './backend/backend.js';
import { freshRing, ownership, type Ring } from './ring/ring.js';
import { loadRing, saveRing } from './ring/ring_store.js';
import { VnodeManager } from './vnode/manager.js';
import { BucketRegistry } from './kv/buckets.js';
import { KvService } from './kv/service.js';
import { localRouter } from './kv/local_router.js';
import { countLocal, scanLocal } from './coverage/local_scan.js';
import { RespServer } from './api/resp/server.js';
import { createHttpApp } from './api/http/app.js';
import { listenHttp } from './api/http/server.js';
import type { AdminApi } from './api/http/admin_api.js';
import { loadIdentity, prepareDataDir } from './node_identity.js';

export interface NodeDeps {
  logger?: Logger;
  /** wall clock in ms; injected so tests control expiry and last-modified */
  now?: () => number;
}

export interface RkvNode {
  readonly name: string;
  readonly addresses: { resp: string; http: string; cluster: string };
  readonly kv: KvService;
  readonly metrics: Metrics;
  stop(): Promise<void>;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function loadOrCreateRing(cfg: NodeConfig): Promise<Ring> {
  const saved = await loadRing(cfg.dataDir);
  if (saved) {
    if (saved.createdRingSize !== cfg.ringSize) {
      throw new Error(`data dir ${cfg.dataDir} was created with ring size ${saved.createdRingSize}, not ${cfg.ringSize}`);
    }
    return saved;
  }
  const ring = freshRing(cfg.clusterName, { name: cfg.name, status: 'valid', clusterAddress: '', httpAddress: '' }, cfg.ringSize);
  await saveRing(cfg.dataDir, ring);
  return ring;
}

/**
 * Composes a storage node: data dir, ring, backend, vnodes, coordinators and
 * the client listeners. Everything that touches the outside world is here or
 * below api/; the parts it wires together are pure or injected.
 */
export async function startNode(cfg: NodeConfig, deps: NodeDeps = {}): Promise<RkvNode> {
  const logger = deps.logger ?? pino({ level: cfg.logLevel });
  const now = deps.now ?? Date.now;
  const startedAt = now();
  await prepareDataDir(cfg.dataDir);
  const ring = await loadOrCreateRing(cfg);
  const identity = await loadIdentity(cfg.dataDir);
  const backend: Backend = await openBackend(cfg.backend, cfg.dataDir, { sync: cfg.syncWrites });
  const cleanups: (() => Promise<void>)[] = [() => backend.close()];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: Error) => logger.error({ err: e }, 'shutdown step failed'));
  };
  try {
    const metrics = new Metrics();
    const vnodes = new VnodeManager(backend, ring.ringSize, identity.incarnation);
    vnodes.startAll(ring.owners.flatMap((o, p) => (o === cfg.name ? [p] : [])));
    metrics.vnodes.set({ type: 'primary' }, vnodes.running);
    metrics.ringSize.set(ring.ringSize);
    for (const [member, share] of ownership(ring)) metrics.ringOwnership.set({ node: member }, share);
    metrics.backendSize.set({ backend: backend.name }, 0);

    const buckets = await BucketRegistry.open(cfg.dataDir, cfg.bucketDefaults);
    const up = new Set([cfg.name]);
    const kv = new KvService({
      ring: () => ring,
      upNodes: () => up,
      router: localRouter(vnodes),
      buckets,
      metrics,
      now,
      timeoutMs: cfg.requestTimeoutMs,
      count: (bucket) => countLocal(vnodes, bucket, now()),
      scan: (bucket, cursor, count, match) => scanLocal(vnodes, bucket, cursor, count, now(), match),
    });

    let ready = false;
    const admin: AdminApi = {
      memberStatus: async () => {
        const shares = ownership(ring);
        return {
          members: Object.values(ring.members).map((m) => ({
            name: m.name,
            status: m.status,
            ringPct: Math.round((shares.get(m.name) ?? 0) * 1000) / 10,
            pendingPct: Math.round((shares.get(m.name) ?? 0) * 1000) / 10,
            reachable: up.has(m.name),
          })),
        };
      },
      ringStatus: async () => ({
        claimant: ring.claimant,
        ringReady: true,
        ringSize: ring.ringSize,
        pendingOwnershipTransfers: 0,
        unreachable: Object.keys(ring.members).filter((m) => !up.has(m)),
      }),
      keys: async (bucket) => {
        const keys: string[] = [];
        const b = Buffer.from(bucket, 'utf8');
        let cursor = 0;
        do {
          const page = await scanLocal(vnodes, b, cursor, 1000, now());
          for (const k of page.keys) keys.push(k.toString('utf8'));
          cursor = page.cursor;
        } while (cursor !== 0);
        return { keys };
      },
      count: async (bucket) => ({ count: await countLocal(vnodes, Buffer.from(bucket, 'utf8'), now()) }),
    };

    const info = () => ({
      server: { rkv_version: '0.1.0', redis_version: '7.0.0-rkv', process_id: process.pid, tcp_port: Number(respAddr.split(':').pop()), uptime_in_seconds: Math.floor((now() - startedAt) / 1000), node: cfg.name, ring_size: ring.ringSize, backend: backend.name },
    });
    const resp = new RespServer({ kv, metrics, logger: logger.child({ api: 'resp' }), maxValueSize: cfg.maxValueSize, ...(cfg.requirePass ? { requirePass: cfg.requirePass } : {}), info, now });
    const respBound = await resp.listen(cfg.respPort, cfg.bind);
    const respAddr = hostPort(cfg.bind, respBound.port);
    cleanups.push(() => resp.close());

    const app = createHttpApp({
      kv,
      admin,
      metrics,
      logger: logger.child({ api: 'http' }),
      maxValueSize: cfg.maxValueSize,
      isReady: () => ready,
      now,
      stats: () => ({ node: cfg.name, ring_size: ring.ringSize, vnodes: vnodes.running, backend: backend.name, uptime_s: Math.floor((now() - startedAt) / 1000) }),
    });
    const http = await listenHttp(app, cfg.httpPort, cfg.bind);
    cleanups.push(() => http.close());

    const sizeTimer = setInterval(() => {
      backend.approximateSize().then((b) => metrics.backendSize.set({ backend: backend.name }, b), () => undefined);
    }, 10_000);
    sizeTimer.unref();
    cleanups.push(async () => clearInterval(sizeTimer));

    ready = true;
    const addresses = { resp: respAddr, http: hostPort(cfg.bind, http.address.port), cluster: hostPort(cfg.bind, cfg.clusterPort) };
    logger.info({ node: cfg.name, ...addresses, ringSize: ring.ringSize, backend: backend.name, dataDir: cfg.dataDir }, 'rkv node ready');
    let stopping: Promise<void> | undefined;
    return {
      name: cfg.name,
      addresses,
      kv,
      metrics,
      stop: () => {
        stopping ??= (async () => {
          ready = false;
          logger.info({ node: cfg.name }, 'rkv node stopping');
          await cleanup();
        })();
        return stopping;
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
