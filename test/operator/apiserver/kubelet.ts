import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Container, EnvVar, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import { validateBuiltin } from './admission.js';
import type { Obj, Store } from './store.js';

/**
 * The StatefulSet controller and kubelet of the stand-in: pods of a
 * StatefulSet become real `rkv start` processes. Each pod gets its own
 * loopback address (its pod IP; the node binds and advertises it), a data
 * dir per PVC that outlives the pod, its ConfigMap volumes written to disk,
 * env resolved (fieldRef, secretKeyRef, $(VAR)), readiness from its
 * readinessProbe, restarts on crash, graceful termination on delete, and
 * rolling replacement of pods whose template revision is outdated.
 */
const STS = 'apps/statefulsets';
const PODS = '/pods';
const PVCS = '/persistentvolumeclaims';
const PVC_PROTECTION = 'kubernetes.io/pvc-protection';

interface Proc {
  child: ChildProcess | undefined;
  ip: string;
  ready: boolean;
  restarts: number;
  startingAt: number;
  stopping: boolean;
}

export interface KubeletOptions {
  store: Store;
  /** the node CLI (dist/node/src/cli/main.js) run for every container */
  nodeMain: string;
  /** where PVC data dirs, config volumes and pod logs live */
  root: string;
  /** longest grace period honoured at pod deletion (tests keep it short) */
  maxGraceMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const asObj = <T>(o: T) => o as unknown as Obj;

export class Kubelet {
  private readonly procs = new Map<string, Proc>();
  private readonly ips = new Map<string, string>();
  private nextIp = 1;
  private readonly subnet = 100 + Math.floor(Math.random() * 100);
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly o: KubeletOptions) {
    fs.mkdirSync(o.root, { recursive: true });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), 200);
  }

  /** Kills every node process at once (test teardown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.procs.values()].map(async (p) => {
      p.stopping = true;
      if (p.child && p.child.exitCode === null) {
        p.child.kill('SIGKILL');
        await new Promise((r) => p.child!.once('exit', r));
      }
    }));
  }

  /** Test hook: kill -9 a pod's process (it is restarted like a crashed container). */
  crash(namespace: string, pod: string): void {
    this.procs.get(`${namespace}/${pod}`)?.child?.kill('SIGKILL');
  }

  podIp(namespace: string, pod: string): string {
    const k = `${namespace}/${pod}`;
    let ip = this.ips.get(k);
    if (!ip) {
      const n = this.nextIp++;
      ip = `127.${this.subnet}.${Math.floor(n / 250)}.${(n % 250) + 2}`;
      this.ips.set(k, ip);
    }
    return ip;
  }

  pvcDir(namespace: string, claim: string): string {
    return path.join(this.o.root, 'pvcs', namespace, claim);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const sts of this.o.store.list(STS) as unknown as StatefulSet[]) this.syncStatefulSet(sts);
      for (const pod of this.o.store.list(PODS) as unknown as Pod[]) await this.syncPod(pod);
      this.syncClaims();
    } catch (e) {
      process.stderr.write(`stand-in kubelet: ${(e as Error).stack}\n`);
    } finally {
      this.busy = false;
    }
  }

  private syncStatefulSet(sts: StatefulSet): void {
    const store = this.o.store;
    const ns = sts.metadata!.namespace!;
    const name = sts.metadata!.name!;
    const uid = sts.metadata!.uid!;
    const spec = sts.spec!;
    const replicas = spec.replicas ?? 1;
    const revision = `${name}-${createHash('sha1').update(JSON.stringify(spec.template)).digest('hex').slice(0, 10)}`;
    const pods = (store.list(PODS, ns) as unknown as Pod[]).filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === uid));
    const byName = new Map(pods.map((p) => [p.metadata!.name!, p]));
    for (let i = 0; i < replicas; i++) {
      const podName = `${name}-${i}`;
      if (byName.has(podName)) continue;
      for (const t of spec.volumeClaimTemplates ?? []) {
        const claim = `${t.metadata!.name}-${podName}`;
        if (store.get(PVCS, ns, claim)) continue;
        const pvc: PersistentVolumeClaim = {
          apiVersion: 'v1', kind: 'PersistentVolumeClaim',
          metadata: { name: claim, namespace: ns, labels: { ...t.metadata?.labels, ...spec.selector.matchLabels }, finalizers: [PVC_PROTECTION] },
          spec: t.spec!,
          status: { phase: 'Bound', accessModes: t.spec?.accessModes ?? [], capacity: { storage: t.spec?.resources?.requests?.storage ?? '1Gi' } },
        };
        validateBuiltin(asObj(pvc));
        store.create(PVCS, asObj(pvc));
      }
      const pod: Pod = {
        apiVersion: 'v1', kind: 'Pod',
        metadata: {
          name: podName, namespace: ns,
          labels: { ...spec.template.metadata?.labels, 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(i), 'controller-revision-hash': revision },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          ...spec.template.spec!,
          hostname: podName,
          subdomain: spec.serviceName,
          volumes: [...(spec.template.spec?.volumes ?? []), ...(spec.volumeClaimTemplates ?? []).map((t) => ({ name: t.metadata!.name!, persistentVolumeClaim: { claimName: `${t.metadata!.name}-${podName}` } }))],
        },
        status: { phase: 'Pending' },
      };
      validateBuiltin(asObj(pod));
      store.create(PODS, asObj(pod));
    }
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    for (const p of live) {
      const ordinal = Number(p.metadata!.name!.slice(name.length + 1));
      if (ordinal >= replicas) store.delete(PODS, ns, p.metadata!.name!);
    }
    const ready = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const current = live.filter((p) => Number(p.metadata!.name!.slice(name.length + 1)) < replicas);
    const outdated = current.filter((p) => p.metadata?.labels?.['controller-revision-hash'] !== revision);
    if (outdated.length && current.length === replicas && current.every(ready) && live.length === pods.length) {
      const last = outdated.sort((a, b) => b.metadata!.name!.localeCompare(a.metadata!.name!, 'en', { numeric: true }))[0]!;
      store.delete(PODS, ns, last.metadata!.name!);
    }
    const status = {
      observedGeneration: sts.metadata!.generation, replicas: pods.length, readyReplicas: pods.filter(ready).length,
      currentReplicas: pods.length - outdated.length, updatedReplicas: pods.length - outdated.length, availableReplicas: pods.filter(ready).length,
      currentRevision: revision, updateRevision: revision,
    };
    if (JSON.stringify(sts.status) !== JSON.stringify(status)) store.update(STS, asObj({ ...sts, status }));
  }

  private async syncPod(pod: Pod): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const key = `${ns}/${name}`;
    let p = this.procs.get(key);
    if (pod.metadata?.deletionTimestamp) {
      if (p && !p.stopping) void this.terminate(p, pod);
      if (!p || (p.stopping && (!p.child || p.child.exitCode !== null || p.child.signalCode !== null))) {
        this.procs.delete(key);
        this.o.store.remove(PODS, pod as unknown as Obj);
      }
      return;
    }
    if (!p) {
      p = { child: undefined, ip: this.podIp(ns, name), ready: false, restarts: 0, startingAt: 0, stopping: false };
      this.procs.set(key, p);
    }
    if ((!p.child || p.child.exitCode !== null || p.child.signalCode !== null) && Date.now() >= p.startingAt) {
      if (p.child) p.restarts++;
      p.ready = false;
      p.child = this.launch(pod, p);
      p.startingAt = Date.now() + Math.min(1000 * 2 ** p.restarts, 10_000);
    }
    p.ready = !!p.child && p.child.exitCode === null && (await probe(pod, p.ip));
    this.writePodStatus(pod, p);
  }

  private writePodStatus(pod: Pod, p: Proc): void {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const was = pod.status?.conditions?.find((c) => c.type === 'Ready');
    const ready = p.ready ? 'True' : 'False';
    const container = pod.spec!.containers[0]!;
    const status: Pod['status'] = {
      phase: p.child ? 'Running' : 'Pending',
      podIP: p.ip, podIPs: [{ ip: p.ip }], hostIP: '127.0.0.1',
      conditions: [{ type: 'Ready', status: ready, lastTransitionTime: was?.status === ready ? was.lastTransitionTime : now }],
      containerStatuses: [{ name: container.name, image: container.image ?? '', imageID: '', ready: p.ready, restartCount: p.restarts, started: !!p.child }],
    };
    if (JSON.stringify(pod.status) !== JSON.stringify(status)) {
      const fresh = this.o.store.get(PODS, pod.metadata!.namespace, pod.metadata!.name!);
      if (fresh && !fresh.metadata.deletionTimestamp) this.o.store.update(PODS, { ...fresh, status } as unknown as Obj);
    }
  }

  private launch(pod: Pod, p: Proc): ChildProcess | undefined {
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const c = pod.spec!.containers[0]!;
    const mounts = this.mountVolumes(pod, c);
    const env = this.resolveEnv(pod, c, p.ip);
    if (!env || !mounts) return undefined;
    for (const [k, v] of Object.entries(env)) {
      for (const [from, to] of mounts) if (v.startsWith(from)) env[k] = to + v.slice(from.length);
    }
    // the stand-in's network: every pod is reached on its own loopback address
    env.RKV_BIND = p.ip;
    env.RKV_ADVERTISE = p.ip;
    const logDir = path.join(this.o.root, 'logs');
    fs.mkdirSync(logDir, { recursive: true });
    const log = fs.openSync(path.join(logDir, `${ns}_${name}.log`), 'a');
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RKV_')));
    const child = spawn(process.execPath, [this.o.nodeMain, ...(c.args ?? [])], { env: { ...base, ...env }, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    return child;
  }

  /** mountPath -> host dir, or undefined when a volume cannot be provided yet. */
  private mountVolumes(pod: Pod, c: Container): [string, string][] | undefined {
    const ns = pod.metadata!.namespace!;
    const out: [string, string][] = [];
    for (const m of c.volumeMounts ?? []) {
      const v = pod.spec!.volumes?.find((x) => x.name === m.name);
      if (v?.persistentVolumeClaim) {
        const dir = this.pvcDir(ns, v.persistentVolumeClaim.claimName);
        fs.mkdirSync(dir, { recursive: true });
        out.push([m.mountPath, dir]);
      } else if (v?.configMap) {
        const cm = this.o.store.get('/configmaps', ns, v.configMap.name!);
        if (!cm) return undefined;
        const dir = path.join(this.o.root, 'pods', ns, pod.metadata!.name!, m.name);
        fs.mkdirSync(dir, { recursive: true });
        for (const [file, text] of Object.entries((cm.data ?? {}) as Record<string, string>)) fs.writeFileSync(path.join(dir, file), text);
        out.push([m.mountPath, dir]);
      }
    }
    return out;
  }

  private resolveEnv(pod: Pod, c: Container, ip: string): Record<string, string> | undefined {
    const env: Record<string, string> = {};
    const expand = (s: string) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, n: string) => env[n] ?? all);
    for (const e of c.env ?? ([] as EnvVar[])) {
      if (e.value !== undefined) env[e.name] = expand(e.value);
      else if (e.valueFrom?.fieldRef) {
        const f = e.valueFrom.fieldRef.fieldPath;
        env[e.name] = f === 'metadata.name' ? pod.metadata!.name! : f === 'metadata.namespace' ? pod.metadata!.namespace! : f === 'status.podIP' ? ip : '';
      } else if (e.valueFrom?.secretKeyRef) {
        const s = this.o.store.get('/secrets', pod.metadata!.namespace, e.valueFrom.secretKeyRef.name!);
        const v = (s?.data as Record<string, string> | undefined)?.[e.valueFrom.secretKeyRef.key];
        if (v === undefined) return undefined;
        env[e.name] = Buffer.from(v, 'base64').toString('utf8');
      }
    }
    return env;
  }

  private async terminate(p: Proc, pod: Pod): Promise<void> {
    p.stopping = true;
    const child = p.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    const grace = Math.min((pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000, this.o.maxGraceMs ?? 15_000);
    const exited = new Promise((r) => child.once('exit', r));
    if ((await Promise.race([exited.then(() => true), sleep(grace).then(() => false)])) === false) child.kill('SIGKILL');
    await exited;
  }

  /** pvc-protection: a deleted claim goes once no pod uses it, and its data with it. */
  private syncClaims(): void {
    const store = this.o.store;
    for (const pvc of store.list(PVCS)) {
      if (!pvc.metadata.deletionTimestamp) continue;
      const ns = pvc.metadata.namespace!;
      const inUse = (store.list(PODS, ns) as unknown as Pod[]).some((p) => p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name));
      if (inUse) continue;
      fs.rmSync(this.pvcDir(ns, pvc.metadata.name), { recursive: true, force: true });
      store.update(PVCS, { ...pvc, metadata: { ...pvc.metadata, finalizers: (pvc.metadata.finalizers ?? []).filter((f) => f !== PVC_PROTECTION) } });
    }
  }
}

async function probe(pod: Pod, ip: string): Promise<boolean> {
  const c = pod.spec!.containers[0]!;
  const get = c.readinessProbe?.httpGet;
  if (!get) return true;
  const port = typeof get.port === 'number' ? get.port : c.ports?.find((x) => x.name === get.port)?.containerPort;
  try {
    const res = await fetch(`http://${ip}:${port}${get.path ?? '/'}`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}
