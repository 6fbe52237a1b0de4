import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStandIn, type StandIn } from '../apiserver/index.js';
import { NS, OperatorProcess, clusterSpec, createCluster, events, getCluster, missingKeys, patchSpec, redis, summary, waitFor, waitRunning, writeKeys } from './harness.js';

/**
 * Ring resize through the operator on RocksDB nodes: explicit and
 * autoResize, a crashed node coming back on its data dir afterwards, and a
 * scale-down that arrives while a resize runs.
 */
describe('operator e2e: ring resize', { timeout: 600_000 }, () => {
  let env: StandIn;
  let op: OperatorProcess;
  const name = 'rs';
  let resp = 0;
  const KEYS = 200;

  before(async () => {
    env = await startStandIn();
    op = await new OperatorProcess(env, 'op-r').start();
  });
  after(async () => {
    await op?.stop();
    await env?.stop();
  });

  // The operator writes the status before it records the step's events: wait for the events asked for.
  const reasons = (...expected: string[]) => waitFor(`events ${expected.join(', ')}`, async () => {
    const r = (await events(env, name)).map((e) => e.reason ?? '');
    return expected.every((x) => r.includes(x)) ? r : undefined;
  }, 10_000, async () => (await events(env, name)).map((e) => e.reason ?? '').join(' '));
  const ringIs = (size: number, replicas: number) => waitFor(`ring ${size} with ${replicas} members`, async () => {
    const c = await getCluster(env, name);
    return c.status?.ring?.size === size && c.status.phase === 'Running' && c.status.members?.length === replicas && !c.status.operation ? c : undefined;
  }, 120_000, async () => ({ cluster: summary(await getCluster(env, name)), operator: op.tail(1500) }));

  it('resizes 16 -> 32 when ring.size changes, with no key lost', async () => {
    const spec = await clusterSpec({ backend: 'rocksdb' });
    resp = spec.ports!.resp;
    await createCluster(env, name, spec);
    await waitRunning(env, name, 3);
    await writeKeys(redis(env, `${name}-0`, resp), 1, KEYS);
    await patchSpec(env, name, { ring: { size: 32, autoResize: false } });
    await ringIs(32, 3);
    await reasons('Resize', 'ResizeStaged', 'ResizeCommitted', 'ResizeComplete');
    assert.deepEqual(await missingKeys(redis(env, `${name}-2`, resp), 1, KEYS), []);
  });

  it('a node killed after the resize restarts on its data dir and stays a member', async () => {
    env.kubelet.crash(NS, `${name}-1`);
    await waitFor(`${name}-1 restarted`, async () => {
      const pod = await env.admin.get<{ status?: { containerStatuses?: { restartCount: number; ready: boolean }[] } }>({ group: '', version: 'v1', plural: 'pods', kind: 'Pod' }, NS, `${name}-1`);
      const s = pod?.status?.containerStatuses?.[0];
      return s && s.restartCount >= 1 && s.ready ? true : undefined;
    }, 60_000);
    await ringIs(32, 3);
    assert.deepEqual(await missingKeys(redis(env, `${name}-1`, resp), 1, KEYS), []);
  });

  it('autoResize: scaling 3 -> 5 at 32 partitions joins the nodes, then resizes to 64', async () => {
    await patchSpec(env, name, { replicas: 5, ring: { size: 32, autoResize: true } });
    await ringIs(64, 5);
    const r = await reasons('ScaleUpComplete', 'ResizeComplete');
    assert.ok(r.lastIndexOf('ScaleUpComplete') < r.lastIndexOf('Resize'), r.join(' '));
    assert.deepEqual(await missingKeys(redis(env, `${name}-4`, resp), 1, KEYS), []);
  });

  it('a scale-down during a resize waits for it, then the nodes leave', async () => {
    await patchSpec(env, name, { ring: { size: 128, autoResize: false } });
    await waitFor('a Resize in progress', async () => ((await getCluster(env, name)).status?.operation?.type === 'Resize' ? true : undefined), 30_000);
    await patchSpec(env, name, { replicas: 3 });
    await ringIs(128, 3);
    const r = await reasons('ResizeComplete', 'ScaleDownComplete');
    assert.ok(r.lastIndexOf('ResizeComplete') < r.lastIndexOf('ScaleDown'), r.join(' '));
    assert.deepEqual(await missingKeys(redis(env, `${name}-0`, resp), 1, KEYS), []);
  });
});
