/**
 * The images themselves: node/Dockerfile on the test base (see images.ts),
 * what it promises (non-root, /data volume, HEALTHCHECK on /health/ready,
 * listening on all interfaces, advertising its host name, data surviving a
 * re-created container on the same volume), and operator/Dockerfile once the
 * operator is built.
 */
import './env.js';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { freePort, removeLeftovers } from './cluster.js';
import { DEFAULT_BASE, OPERATOR_MAIN, REPO, docker, imageSize, operatorImage } from './images.js';
import { containerTier, requireDocker, testImage } from './scenario.js';

const tier = await containerTier();

interface ImageConfig {
  User: string;
  Env: string[];
  Entrypoint: string[];
  Cmd: string[];
  Volumes: Record<string, unknown> | null;
  ExposedPorts: Record<string, unknown> | null;
  Healthcheck?: { Test: string[] };
}

async function config(ref: string): Promise<ImageConfig> {
  const r = await docker(['image', 'inspect', '--format', '{{json .Config}}', ref]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ImageConfig;
}

describe('container tier: images', { timeout: 300_000 }, () => {
  let image = '';
  before(async () => {
    await tier.prepare();
    if (!tier.skip) image = await testImage().catch(() => ''); // a build failure fails the tests below
  });
  const needImage = async () => {
    await requireDocker();
    if (!image) image = await testImage();
  };

  it('node/Dockerfile defaults to an official node slim base and is multi-stage', () => {
    const text = fs.readFileSync(path.join(REPO, 'node', 'Dockerfile'), 'utf8');
    assert.match(text, new RegExp(`^ARG BASE_IMAGE=${DEFAULT_BASE.replace('.', '\\.')}$`, 'm'));
    assert.equal(text.match(/^FROM \$\{BASE_IMAGE\}/gm)?.length, 2, 'a build stage and a runtime stage on the same base');
    assert.match(text, /^COPY --from=build /m);
  });

  it('runs as a non-root user with /data as a volume, a HEALTHCHECK on /health/ready and rkv start by default', { skip: tier.skip }, async () => {
    await needImage();
    const c = await config(image);
    assert.equal(c.User, 'node');
    assert.ok(c.Volumes && '/data' in c.Volumes, `volumes: ${JSON.stringify(c.Volumes)}`);
    for (const p of ['6379/tcp', '8098/tcp', '8099/tcp']) assert.ok(c.ExposedPorts && p in c.ExposedPorts, `exposes ${p}`);
    assert.ok(c.Healthcheck?.Test.join(' ').includes('/health/ready'), `healthcheck: ${JSON.stringify(c.Healthcheck)}`);
    assert.deepEqual(c.Entrypoint, ['node', '/app/dist/node/src/cli/main.js']);
    assert.deepEqual(c.Cmd, ['start']);
    assert.ok(c.Env.includes('RKV_BIND=0.0.0.0') && c.Env.includes('RKV_DATA_DIR=/data'), c.Env.join(' '));
    const size = await imageSize(image);
    process.stdout.write(`image ${image}: ${(size / 1e6).toFixed(0)} MB\n`);
  });

  it('the CLI runs in the image (rkv --version, rkv start --help)', { skip: tier.skip }, async () => {
    await needImage();
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    const v = await docker(['run', '--rm', image, '--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), pkg.version);
    const h = await docker(['run', '--rm', image, 'start', '--help']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /--advertise/);
  });

  describe('one node in a container', { skip: tier.skip }, () => {
    let network: StartedNetwork;
    let node: StartedTestContainer | undefined;
    const volume = `rkv-test-image-${process.pid}-${Date.now().toString(36)}`;
    const ports = { resp: 0, http: 0 };

    const start = async () => {
      node = await new GenericContainer(image)
        .withNetwork(network)
        .withNetworkAliases('solo')
        .withHostname('solo')
        .withExposedPorts({ container: 6379, host: ports.resp }, { container: 8098, host: ports.http })
        .withBindMounts([{ source: volume, target: '/data' }])
        .withLabels({ 'rkv.test.owner': String(process.pid), 'rkv.test.network': network.getName() })
        .withCommand(['start', '--ring-size', '16'])
        // the image's own HEALTHCHECK (a node fetch of /health/ready) must report healthy
        .withWaitStrategy(Wait.forHealthCheck())
        .withStartupTimeout(90_000)
        .start();
    };

    before(async () => {
      await needImage();
      await removeLeftovers();
      const d = (await getContainerRuntimeClient()).container.dockerode;
      await d.createVolume({ Name: volume, Labels: { 'rkv.test.owner': String(process.pid) } });
      network = await new Network().start();
      ports.resp = await freePort();
      ports.http = await freePort();
      await start();
    });

    after(async () => {
      await node?.stop({ remove: true, removeVolumes: true, timeout: 10_000 }).catch(() => undefined);
      await network?.stop().catch(() => undefined);
      const d = (await getContainerRuntimeClient()).container.dockerode;
      await d.getVolume(volume).remove().catch(() => undefined);
    });

    it('is healthy, listens on all interfaces, advertises its host name, runs as uid 1000', async () => {
      const ms = (await (await fetch(`http://127.0.0.1:${ports.http}/admin/member-status`)).json()) as { members: { name: string }[] };
      assert.deepEqual(ms.members.map((m) => m.name), ['rkv@solo']);
      const id = await node!.exec(['id', '-u']);
      assert.equal(id.output.trim(), '1000');
      const admin = await node!.exec(['node', '/app/dist/node/src/cli/main.js', 'admin', '--json', 'member-status']);
      assert.equal(admin.exitCode, 0, admin.output);
      assert.match(admin.output, /rkv@solo/);
    });

    it('keeps its data on the volume when the container is re-created', async () => {
      const r = new Redis({ host: '127.0.0.1', port: ports.resp, lazyConnect: true, maxRetriesPerRequest: 1 });
      await r.connect();
      assert.equal(await r.set('survives', 'yes'), 'OK');
      r.disconnect();
      await node!.stop({ remove: true, removeVolumes: false, timeout: 10_000 }); // SIGTERM: clean shutdown
      node = undefined;
      await start();
      const r2 = new Redis({ host: '127.0.0.1', port: ports.resp, lazyConnect: true, maxRetriesPerRequest: 1 });
      await r2.connect();
      try {
        assert.equal(await r2.get('survives'), 'yes');
      } finally {
        r2.disconnect();
      }
    });
  });

  it('operator/Dockerfile builds the operator image (once dist/operator/src/main.js exists)', { skip: tier.skip }, async (t) => {
    await requireDocker();
    if (!fs.existsSync(path.join(REPO, OPERATOR_MAIN))) {
      t.skip(`${OPERATOR_MAIN} not built yet`);
      return;
    }
    const op = await operatorImage();
    const c = await config(op);
    assert.equal(c.User, 'node');
    assert.deepEqual(c.Entrypoint, ['node', `/app/${OPERATOR_MAIN}`]);
    const r = await docker(['run', '--rm', '--entrypoint', 'node', op, '-e', `require('node:fs').accessSync('/app/${OPERATOR_MAIN}')`]);
    assert.equal(r.code, 0, r.stderr);
    process.stdout.write(`image ${op}: ${((await imageSize(op)) / 1e6).toFixed(0)} MB\n`);
  });
});
