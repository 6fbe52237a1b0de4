import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RkvCluster } from '../../../operator/src/crd/spec.js';
import { ApiError } from '../../../operator/src/k8s/rest.js';
import { R } from '../../../operator/src/k8s/resources.js';
import { startStandIn, type StandIn } from '../apiserver/index.js';
import { NS, createCluster, patchSpec } from './harness.js';

/** The CRD's schema and CEL rules at admission, through the stand-in API server (no operator running). */
describe('RkvCluster admission (OpenAPI + CEL)', () => {
  let env: StandIn;
  before(async () => {
    env = await startStandIn();
  });
  after(async () => {
    await env?.stop();
  });

  async function rejected(p: Promise<unknown>, message: RegExp): Promise<void> {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.statusCode, 422, e.message);
      assert.match(e.message, message);
      return true;
    });
  }

  it('fills defaults', async () => {
    const c = await createCluster(env, 'defaults', {});
    assert.equal(c.spec.replicas, 3);
    assert.equal(c.spec.ring.size, 64);
    assert.equal(c.spec.storage.retainOnScaleDown, true);
    assert.deepEqual(c.spec.ports, { resp: 6379, http: 8098, cluster: 8099 });
  });

  it('rejects replicas below nVal', async () => {
    await rejected(createCluster(env, 'few', { replicas: 2, nVal: 3 }), /spec\.replicas: .*replicas must be at least nVal/);
    await rejected(patchSpec(env, 'defaults', { replicas: 1 }), /replicas must be at least nVal/);
  });

  it('rejects a ring size that is not a power of two between 8 and 1024', async () => {
    for (const size of [100, 4, 2048]) {
      await rejected(createCluster(env, `ring-${size}`, { ring: { size, autoResize: false } }), /spec\.ring\.size: .*ring\.size must be a power of two between 8 and 1024/);
    }
    const ok = await createCluster(env, 'ring-128', { ring: { size: 128, autoResize: true } });
    assert.equal(ok.spec.ring.size, 128);
  });

  it('rejects shrinking storage, and a storage class or backend change, on update', async () => {
    await createCluster(env, 'disk', { storage: { size: '10Gi', retainOnScaleDown: true } });
    await rejected(patchSpec(env, 'disk', { storage: { size: '5Gi', retainOnScaleDown: true } }), /storage\.size cannot shrink/);
    await rejected(patchSpec(env, 'disk', { storage: { size: '10000Mi', retainOnScaleDown: true } }), /storage\.size cannot shrink/);
    const grown = await patchSpec(env, 'disk', { storage: { size: '20Gi', retainOnScaleDown: true } });
    assert.equal(grown.spec.storage.size, '20Gi');
    await rejected(patchSpec(env, 'disk', { storage: { size: '20Gi', storageClassName: 'fast', retainOnScaleDown: true } }), /storageClassName cannot be changed/);
    await rejected(patchSpec(env, 'disk', { backend: 'memory' }), /backend cannot be changed/);
  });

  it('rejects quorums above nVal, unknown enum values and bad quantities', async () => {
    await rejected(createCluster(env, 'q', { nVal: 3, quorum: { r: 4 } }), /quorum\.r cannot exceed nVal/);
    await rejected(createCluster(env, 'b', { backend: 'leveldb' as never }), /Unsupported value: "leveldb"/);
    await rejected(createCluster(env, 's', { storage: { size: 'lots', retainOnScaleDown: true } }), /spec\.storage\.size/);
  });

  it('keeps status out of spec writes (status subresource)', async () => {
    const c = await env.admin.mergePatch<RkvCluster>(R.rkvcluster, NS, 'defaults', { status: { phase: 'Running' } });
    assert.equal(c.status, undefined);
    const s = await env.admin.mergePatch<RkvCluster>(R.rkvcluster, NS, 'defaults', { status: { phase: 'Running' } }, 'status');
    assert.equal(s.status?.phase, 'Running');
    assert.equal(s.metadata.generation, c.metadata.generation);
  });
});
