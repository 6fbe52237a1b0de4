import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-types/core/v1.js';
import type { RkvCluster } from '../../../operator/src/crd/spec.js';
import { R } from '../../../operator/src/k8s/resources.js';
import { startStandIn, type StandIn } from '../apiserver/index.js';
import { NS, OperatorProcess, clusterSpec, createCluster, events, getCluster, missingKeys, patchSpec, redis, sleep, summary, waitFor, waitRunning, writeKeys } from './harness.js';

/**
 * The operator binary, unmodified, against the stand-in API server with real
 * rkv node processes: create, scale up and down with data checked through
 * RESP, a restart mid-operation, leader election, watch failures, deletion.
 */
describe('operator e2e: one cluster through its life', { timeout: 600_000 }, () => {
  let env: StandIn;
  let op: OperatorProcess;
  const name = 'life';
  let respPort = 0;
  const KEYS = 300;

  before(async () => {
    // prometheus-operator "installed": spec.monitoring has something to create
    env = await startStandIn({ monitoringApi: true });
    op = await new OperatorProcess(env, 'op-a').start();
  });

  after(async () => {
    await op?.stop();
    const forbidden = env?.api.requests.filter((r) => r.code === 403);
    await env?.stop();
    assert.deepEqual(forbidden, [], 'the operator needed a verb its RBAC does not grant');
  });

  const reason = async (r: string) => (await events(env, name)).filter((e) => e.reason === r);
  const fail = async (msg: string) => `${msg}\n${JSON.stringify(summary(await getCluster(env, name)))}\n${op.tail()}`;

  it('creates a 3-node cluster: owned objects, joins, Running/Available with members', async () => {
    const spec = await clusterSpec({ nVal: 2, storage: { size: '1Gi', retainOnScaleDown: false } });
    respPort = spec.ports!.resp;
    await createCluster(env, name, spec);
    const c = await waitRunning(env, name, 3);
    assert.equal(c.status?.ring?.size, 16);
    assert.equal(c.status?.readyReplicas, 3);
    assert.deepEqual(c.metadata.finalizers, ['rkv.io/orderly-shutdown']);
    for (const t of ['Available', 'Progressing', 'Degraded', 'Resizing']) assert.ok(c.status?.conditions?.some((x) => x.type === t), t);
    const sts = await env.admin.get<StatefulSet>(R.statefulset, NS, name);
    assert.equal(sts?.spec?.replicas, 3);
    assert.match(sts?.metadata?.annotations?.['rkv.io/spec-hash'] ?? '', /^[0-9a-f]{16}$/);
    assert.equal(sts?.metadata?.ownerReferences?.[0]?.uid, c.metadata.uid);
    assert.ok(await env.admin.get<Secret>(R.secret, NS, `${name}-cluster-secret`));
    assert.ok(await env.admin.get<ConfigMap>(R.configmap, NS, `${name}-config`));
    assert.equal((await env.admin.get<Service>(R.service, NS, `${name}-headless`))?.spec?.clusterIP, 'None');
    assert.ok(await env.admin.get(R.pdb, NS, name));
    assert.equal((await reason('JoinStaged')).length, 2);
    assert.equal((await reason('PlanCommitted')).length, 1);
    await writeKeys(redis(env, `${name}-0`, respPort), 1, KEYS);
  });

  it('spec.monitoring: a ServiceMonitor and a PrometheusRule owned by the cluster, removed when turned off', async () => {
    const before = await getCluster(env, name);
    assert.equal(await env.admin.get(R.servicemonitor, NS, name), undefined, 'none unless asked for');
    await patchSpec(env, name, { monitoring: { serviceMonitor: true, prometheusRule: true } });
    const sm = await waitFor('the ServiceMonitor', () => env.admin.get<{ metadata: { ownerReferences?: { uid: string }[] }; spec: { endpoints: { port: string }[] } }>(R.servicemonitor, NS, name), 30_000);
    assert.equal(sm.metadata.ownerReferences?.[0]?.uid, before.metadata.uid);
    assert.equal(sm.spec.endpoints[0]?.port, 'http');
    const rule = await waitFor('the PrometheusRule', () => env.admin.get<{ spec: { groups: { rules: { expr: string }[] }[] } }>(R.prometheusrule, NS, `${name}-alerts`), 30_000);
    assert.ok(rule.spec.groups.flatMap((g) => g.rules).every((r) => r.expr.includes(`service="${name}"`)));
    await patchSpec(env, name, { monitoring: { serviceMonitor: false, prometheusRule: false } });
    await waitFor('both removed', async () => ((await env.admin.get(R.servicemonitor, NS, name)) === undefined && (await env.admin.get(R.prometheusrule, NS, `${name}-alerts`)) === undefined ? true : undefined), 30_000);
    const c = await waitRunning(env, name, 3);
    assert.notEqual(c.status?.conditions?.find((x) => x.type === 'Degraded')?.status, 'True');
  });

  it('scales 3 -> 5: new pods join, ownership rebalances, no key lost', async () => {
    await patchSpec(env, name, { replicas: 5 });
    const c = await waitRunning(env, name, 5);
    assert.ok(c.status!.members!.every((m) => m.ringPct > 0), await fail('every member owns a share'));
    assert.equal((await reason('ScaleUpComplete')).length, 2);
    assert.deepEqual(await missingKeys(redis(env, `${name}-4`, respPort), 1, KEYS), []);
  });

  it('scales 5 -> 2: the highest ordinals leave first, then the StatefulSet shrinks and their PVCs go', async () => {
    await patchSpec(env, name, { replicas: 2 });
    await waitRunning(env, name, 2);
    const sts = await env.admin.get<StatefulSet>(R.statefulset, NS, name);
    assert.equal(sts?.spec?.replicas, 2);
    const leaves = (await reason('LeaveStaged')).map((e) => e.message ?? '');
    assert.equal(leaves.length, 3);
    assert.ok(leaves.every((m) => /life-[234]\./.test(m)), leaves.join('; '));
    // the leave completed (ring) before the StatefulSet shrank
    const order = (await events(env, name)).map((e) => e.reason);
    assert.ok(order.lastIndexOf('LeaveComplete') > order.lastIndexOf('PlanCommitted'));
    await waitFor('PVCs of the nodes that left deleted', async () => {
      const pvcs = (await env.admin.list<PersistentVolumeClaim>(R.pvc, NS)).items.map((p) => p.metadata?.name).sort();
      return pvcs.join(',') === `data-${name}-0,data-${name}-1` ? true : undefined;
    });
    assert.deepEqual(await missingKeys(redis(env, `${name}-0`, respPort), 1, KEYS), []);
  });

  it('resumes an operation after the operator is killed mid-step, without starting it again', async () => {
    await patchSpec(env, name, { replicas: 4 });
    const mid = await waitFor('a Join recorded in status', async () => {
      const c = await getCluster(env, name);
      return c.status?.operation ? c : undefined;
    }, 30_000);
    await op.stop('SIGKILL');
    const startedAt = mid.status!.operation!.startedAt;
    await sleep(500);
    const still = await getCluster(env, name);
    assert.equal(still.status?.operation?.startedAt ?? startedAt, startedAt);
    op = await new OperatorProcess(env, 'op-a2').start();
    await waitRunning(env, name, 4, 120_000);
    // creation, 3 -> 5 and this one: the killed operator's Join was resumed, not started again
    assert.equal((await reason('ScaleUp')).length, 3, await fail('the scale-up was started once'));
    assert.deepEqual(await missingKeys(redis(env, `${name}-3`, respPort), 1, KEYS), []);
  });

  it('a second replica waits for the lease and takes over when the leader stops', async () => {
    const standby = await new OperatorProcess(env, 'op-b').start();
    try {
      await sleep(2000);
      assert.match(await standby.metrics(), /^rkv_operator_leader 0$/m);
      await op.stop('SIGTERM');
      await waitFor('op-b leading', async () => (/^rkv_operator_leader 1$/m.test(await standby.metrics()) ? true : undefined), 30_000);
      await patchSpec(env, name, { replicas: 3 });
      await waitRunning(env, name, 3, 120_000);
    } finally {
      op = standby;
    }
  });

  it('survives watch failures (restarted informers) and expired watch history (410 -> relist)', async () => {
    env.api.failWatches = 3;
    env.api.store.compact();
    env.api.dropWatches();
    await sleep(1500);
    await patchSpec(env, name, { replicas: 4 });
    await waitRunning(env, name, 4, 120_000);
    const metrics = await op.metrics();
    const restarts = [...metrics.matchAll(/^rkv_operator_informer_restarts_total\{resource="[^"]+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(restarts >= 1, `informer restarts counted: ${restarts}`);
    assert.match(metrics, /^rkv_operator_reconciles_total\{result="requeue"\} \d+/m);
    assert.match(metrics, /^rkv_operator_action_duration_seconds_count\{action="admin_join"\} \d+/m);
  });

  it('holds leaving members steady when a scale-up arrives mid-leave', async () => {
    await patchSpec(env, name, { replicas: 2 });
    await waitFor('a Leave in progress', async () => ((await getCluster(env, name)).status?.operation?.type === 'Leave' ? true : undefined), 30_000);
    await patchSpec(env, name, { replicas: 5 });
    await waitRunning(env, name, 5, 120_000);
    const order = (await events(env, name)).map((e) => e.reason);
    const lastDown = order.lastIndexOf('ScaleDownComplete');
    assert.ok(lastDown > order.lastIndexOf('ScaleDown') && order.lastIndexOf('ScaleUp') > lastDown, `the leave finished before the scale-up began: ${order.join(' ')}`);
    assert.deepEqual(await missingKeys(redis(env, `${name}-0`, respPort), 1, KEYS), []);
  });

  it('deletes in order: nodes stop, then the finalizer goes and owned objects are collected', async () => {
    await env.admin.delete(R.rkvcluster, NS, name);
    await waitFor('RkvCluster gone', async () => ((await env.admin.get<RkvCluster>(R.rkvcluster, NS, name)) ? undefined : true), 60_000);
    await waitFor('StatefulSet and pods collected', async () => {
      const pods = await env.admin.list(R.pod, NS);
      const sts = await env.admin.get(R.statefulset, NS, name);
      return pods.items.length === 0 && !sts ? true : undefined;
    }, 30_000);
    assert.equal((await reason('ShuttingDown')).length, 1);
  });
});
