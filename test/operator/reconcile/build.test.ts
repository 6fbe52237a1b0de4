import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { buildConfigMap, buildSecret } from '../../../operator/src/reconcile/build/config.js';
import { buildClientService, buildHeadlessService, buildPodDisruptionBudget } from '../../../operator/src/reconcile/build/services.js';
import { buildStatefulSet, statefulSetHash } from '../../../operator/src/reconcile/build/statefulset.js';
import { memberName, podOfMember, ordinalOf } from '../../../operator/src/reconcile/names.js';
import { validateBuiltin } from '../apiserver/admission.js';
import type { Obj } from '../apiserver/store.js';
import { REF, cluster } from './fixtures.js';

/** The builders are pure and every object they build passes the upstream OpenAPI schema. */
describe('builders', () => {
  const c = cluster({ replicas: 3, nVal: 3, quorum: { r: 2, w: 2 }, resources: { requests: { cpu: '500m', memory: '1Gi' } }, tolerations: [{ key: 'k', operator: 'Exists' }] });
  const objects = [
    buildConfigMap(c, 16), buildSecret(c, 's3cret'), buildHeadlessService(c), buildClientService(c), buildPodDisruptionBudget(c),
    buildStatefulSet(c, { replicas: 3, claimSize: '10Gi' }),
  ];

  it('validate against the upstream Kubernetes schemas and carry an owner reference', () => {
    for (const o of objects) {
      validateBuiltin(o as unknown as Obj);
      assert.equal(o.metadata?.ownerReferences?.[0]?.uid, 'uid-1', o.kind);
      assert.equal(o.metadata?.ownerReferences?.[0]?.controller, true);
      assert.equal(o.metadata?.labels?.['app.kubernetes.io/managed-by'], 'rkv-operator');
    }
  });

  it('are deterministic', () => {
    assert.deepEqual(buildStatefulSet(c, { replicas: 3, claimSize: '10Gi' }), objects[5]);
    assert.deepEqual(buildConfigMap(c, 16), objects[0]);
  });

  it('the StatefulSet hash covers the template inputs, not replicas nor node settings in the ConfigMap', () => {
    const h = statefulSetHash(c);
    assert.equal(statefulSetHash(cluster({ ...c.spec, replicas: 7 })), h);
    assert.equal(statefulSetHash(cluster({ ...c.spec, nVal: 2, replicas: 3 })), h);
    assert.notEqual(statefulSetHash(cluster({ ...c.spec, image: 'rkv:9' })), h);
    assert.equal(buildStatefulSet(c, { replicas: 5, claimSize: '1Gi' }).metadata?.annotations?.['rkv.io/spec-hash'], h);
  });

  it('the node container gets its identity, config file, secret and probes', () => {
    const sts = objects[5] as ReturnType<typeof buildStatefulSet>;
    const ctr = sts.spec!.template.spec!.containers[0]!;
    const env = Object.fromEntries(ctr.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.RKV_NAME, 'rkv@$(POD_NAME).c-headless.ns.svc');
    assert.equal(env.RKV_ADVERTISE, '$(POD_NAME).c-headless.ns.svc');
    assert.equal(env.RKV_CONFIG, '/etc/rkv/rkv.yaml');
    assert.deepEqual(env.RKV_CLUSTER_SECRET, { secretKeyRef: { name: 'c-cluster-secret', key: 'secret' } });
    assert.equal(ctr.readinessProbe?.httpGet?.path, '/health/ready');
    assert.equal(sts.spec!.podManagementPolicy, 'Parallel');
    assert.equal(sts.spec!.serviceName, 'c-headless');
    assert.deepEqual(sts.spec!.template.spec!.tolerations, [{ key: 'k', operator: 'Exists' }]);
  });

  it('the ConfigMap holds the node options by their rkv start names', () => {
    const cfg = parse(buildConfigMap(c, 32).data!['rkv.yaml']!) as Record<string, unknown>;
    assert.deepEqual(cfg, { 'cluster-name': 'c', bind: '0.0.0.0', 'data-dir': '/var/lib/rkv', backend: 'rocksdb', 'ring-size': 32, 'n-val': 3, r: 2, w: 2, 'resp-port': 6379, 'http-port': 8098, 'cluster-port': 8099, 'log-level': 'info' });
  });

  it('the headless Service publishes pods before they are ready (peers must reach joiners)', () => {
    assert.equal(buildHeadlessService(c).spec?.publishNotReadyAddresses, true);
    assert.equal(buildPodDisruptionBudget(c).spec?.maxUnavailable, 1);
  });

  it('member names map back to pods, and only this cluster\'s', () => {
    assert.equal(podOfMember(REF, memberName(REF, 'c-12')), 'c-12');
    assert.equal(podOfMember(REF, 'rkv@c-1.other-headless.ns.svc'), undefined);
    assert.equal(podOfMember(REF, 'rkv@c-x.c-headless.ns.svc'), undefined);
    assert.equal(ordinalOf(REF, 'c-01'), undefined);
    assert.equal(ordinalOf(REF, 'cc-1'), undefined);
  });
});
