import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { pino } from 'pino';
import type { NodeConfig } from '../../../node/src/config/node_config.js';
import { testNodeConfig } from '../../support/node_config.js';
import { startNode, type RkvNode } from '../../../node/src/node.js';
import { createHttpApp } from '../../../node/src/api/http/app.js';
import { listenHttp, type HttpListener } from '../../../node/src/api/http/server.js';
import type { AdminApi } from '../../../node/src/api/http/admin_api.js';

const MAX_VALUE = 4096;

function testConfig(dataDir: string): NodeConfig {
  return testNodeConfig(dataDir, { maxValueSize: MAX_VALUE });
}

/** Splits a multipart/mixed body into its parts' headers and bodies. */
function parseMultipart(contentType: string, body: Buffer): { headers: Record<string, string>; body: string }[] {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  assert.ok(boundary, `no boundary in ${contentType}`);
  const text = body.toString('utf8');
  const sections = text.split(`--${boundary}`);
  assert.equal(sections.at(-1), '--\r\n', 'multipart body ends with the closing boundary');
  return sections.slice(1, -1).map((sec) => {
    const [head, ...rest] = sec.replace(/^\r\n/, '').split('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of (head ?? '').split('\r\n')) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { headers, body: rest.join('\r\n\r\n').replace(/\r\n$/, '') };
  });
}

describe('HTTP API against a real node', () => {
  let node: RkvNode;
  let dataDir: string;
  let base: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-http-'));
    node = await startNode(testConfig(dataDir));
    base = `http://${node.addresses.http}`;
  });
  after(async () => {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const url = (p: string): string => `${base}${p}`;
  const json = async (res: Response): Promise<Record<string, unknown>> => (await res.json()) as Record<string, unknown>;

  it('round-trips PUT / GET / DELETE with the causal context', async () => {
    const put = await fetch(url('/buckets/b1/keys/k1'), { method: 'PUT', body: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 204);
    const vclock = put.headers.get('x-riak-vclock');
    assert.ok(vclock);

    const get = await fetch(url('/buckets/b1/keys/k1'));
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'hello');
    assert.equal(get.headers.get('content-type'), 'text/plain');
    assert.equal(get.headers.get('x-riak-vclock'), vclock);
    assert.ok(get.headers.get('etag'));
    assert.ok(!Number.isNaN(Date.parse(get.headers.get('last-modified') ?? '')));

    const upd = await fetch(url('/buckets/b1/keys/k1'), { method: 'PUT', body: 'world', headers: { 'x-riak-vclock': vclock } });
    assert.equal(upd.status, 204);
    assert.equal(await (await fetch(url('/buckets/b1/keys/k1'))).text(), 'world');

    const del = await fetch(url('/buckets/b1/keys/k1'), { method: 'DELETE', headers: { 'x-riak-vclock': upd.headers.get('x-riak-vclock') ?? '' } });
    assert.equal(del.status, 204);
    const gone = await fetch(url('/buckets/b1/keys/k1'));
    assert.equal(gone.status, 404);
    assert.ok(gone.headers.get('x-riak-vclock'), 'a tombstone context comes with the 404');
    assert.equal((await fetch(url('/buckets/b1/keys/never'), { method: 'DELETE' })).status, 204);
  });

  it('keeps the content type and bytes, and decodes bucket and key names', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    const p = '/buckets/b%20x/keys/k%2Fslash%C3%A9';
    const put = await fetch(url(p), { method: 'PUT', body: bytes, headers: { 'content-type': 'application/x-thing; charset=weird' } });
    assert.equal(put.status, 204);
    const got = await fetch(url(p));
    assert.equal(got.headers.get('content-type'), 'application/x-thing; charset=weird');
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
    // The same key through the KV API: names reach it as UTF-8 bytes.
    const direct = await node.kv.get(Buffer.from('b x'), Buffer.from('k/slashé'));
    assert.equal(direct.found, true);
  });

  it('returnbody=true answers with the stored value and its context', async () => {
    const res = await fetch(url('/buckets/b1/keys/rb?returnbody=true&w=all'), { method: 'PUT', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{"a":1}');
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.ok(res.headers.get('x-riak-vclock'));
  });

  it('refuses an oversize value with 413', async () => {
    const res = await fetch(url('/buckets/b1/keys/big'), { method: 'PUT', body: Buffer.alloc(MAX_VALUE + 1) });
    assert.equal(res.status, 413);
    assert.deepEqual(await json(res), {
      error: 'value_too_large',
      message: `value of ${MAX_VALUE + 1} bytes exceeds the maximum of ${MAX_VALUE} bytes`,
    });
    assert.equal((await fetch(url('/buckets/b1/keys/big'))).status, 404);
  });

  it('answers 400 for bad query values, contexts, names and escapes', async () => {
    const bad = await fetch(url('/buckets/b1/keys/k?r=x'));
    assert.equal(bad.status, 400);
    assert.deepEqual(await json(bad), { error: 'bad_request', message: 'invalid r: "x"' });
    for (const q of ['w=-1', 'pr=two', 'n_val=0', 'timeout=soon', 'returnbody=yes', 'r=1&r=2']) {
      const res = await fetch(url(`/buckets/b1/keys/k?${q}`), { method: 'PUT', body: 'v' });
      assert.equal(res.status, 400, q);
    }
    assert.equal((await fetch(url('/buckets/b1/keys/k?r=one&pr=default&timeout=2000'))).status, 404);
    for (const vclock of ['!!!not base64', 'AAAA', 'kZGR']) {
      const res = await fetch(url('/buckets/b1/keys/k'), { method: 'PUT', body: 'v', headers: { 'x-riak-vclock': vclock } });
      assert.equal(res.status, 400, vclock);
      assert.equal((await json(res))['error'], 'bad_request');
    }
    const empty = await fetch(url('/buckets//keys/k'));
    assert.equal(empty.status, 400);
    assert.match(String((await json(empty))['message']), /bucket name must not be empty/);
    const longKey = await fetch(url(`/buckets/b1/keys/${'k'.repeat(64 * 1024 + 1)}`));
    assert.equal(longKey.status, 400);
    assert.match(String((await json(longKey))['message']), /key of 65537 bytes exceeds/);
    const escape = await fetch(url('/buckets/b1/keys/%E0%A4%A'));
    assert.equal(escape.status, 400);
    assert.equal((await json(escape))['error'], 'bad_request');
    assert.equal((await fetch(url('/buckets/b1/keys/k?n_val=99'))).status, 400);
  });

  it('reads and validates bucket props', async () => {
    const got = await json(await fetch(url('/buckets/pb/props')));
    assert.deepEqual((got['props'] as Record<string, unknown>)['n_val'], 3);
    const put = await fetch(url('/buckets/pb/props'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ props: { n_val: 2, r: 1, w: 'all', allow_mult: true } }) });
    assert.equal(put.status, 204);
    const props = (await json(await fetch(url('/buckets/pb/props'))))['props'] as Record<string, unknown>;
    assert.equal(props['n_val'], 2);
    assert.equal(props['r'], 1);
    assert.equal(props['w'], 'all');
    assert.equal(props['allow_mult'], true);
    for (const body of ['{"props":{"colour":"red"}}', '{"props":{"n_val":"3"}}', '{"props":{"allow_mult":1}}', '{"props":{"r":"most"}}', '{"n_val":3}', '{broken']) {
      const res = await fetch(url('/buckets/pb/props'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 400, body);
      assert.equal((await json(res))['error'], 'bad_request');
    }
  });

  it('keeps concurrent writes as siblings and resolves them with the merged context', async () => {
    await fetch(url('/buckets/sib/props'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"props":{"allow_mult":true}}' });
    for (const v of ['one', 'two']) {
      const res = await fetch(url('/buckets/sib/keys/k'), { method: 'PUT', body: v, headers: { 'content-type': 'text/plain' } });
      assert.equal(res.status, 204);
    }
    const listing = await fetch(url('/buckets/sib/keys/k'));
    assert.equal(listing.status, 300);
    const text = await listing.text();
    const tags = text.trim().split('\n');
    assert.equal(tags.shift(), 'Siblings:');
    assert.equal(tags.length, 2);

    const mp = await fetch(url('/buckets/sib/keys/k'), { headers: { accept: 'multipart/mixed' } });
    assert.equal(mp.status, 300);
    const parts = parseMultipart(mp.headers.get('content-type') ?? '', Buffer.from(await mp.arrayBuffer()));
    assert.deepEqual(parts.map((p) => p.body).sort(), ['one', 'two']);
    for (const p of parts) {
      assert.equal(p.headers['content-type'], 'text/plain');
      assert.ok(p.headers['etag'] && p.headers['last-modified']);
    }
    const one = await fetch(url(`/buckets/sib/keys/k?vtag=${encodeURIComponent(tags[0] ?? '')}`));
    assert.equal(one.status, 200);

    const merged = mp.headers.get('x-riak-vclock') ?? '';
    const fix = await fetch(url('/buckets/sib/keys/k?returnbody=true'), { method: 'PUT', body: 'three', headers: { 'x-riak-vclock': merged } });
    assert.equal(fix.status, 200);
    assert.equal(await fix.text(), 'three');
    const after = await fetch(url('/buckets/sib/keys/k'));
    assert.equal(after.status, 200);
    assert.equal(await after.text(), 'three');
  });

  it('serves ping, health, stats, admin and JSON 404s', async () => {
    const ping = await fetch(url('/ping'));
    assert.equal(ping.status, 200);
    assert.equal(await ping.text(), 'OK');
    assert.deepEqual(await json(await fetch(url('/health/live'))), { status: 'live' });
    assert.deepEqual(await json(await fetch(url('/health/ready'))), { status: 'ready' });
    const stats = await fetch(url('/stats'));
    assert.equal(stats.status, 200);
    assert.equal(typeof (await json(stats)), 'object');
    const missing = await fetch(url('/no/such/route'));
    assert.equal(missing.status, 404);
    assert.equal((await json(missing))['error'], 'not_found');
    const members = (await json(await fetch(url('/admin/member-status'))))['members'] as { name: string }[];
    assert.equal(members.length, 1);
    assert.equal(members[0]?.name, 'rkv@127.0.0.1');
    const ring = await json(await fetch(url('/admin/ring-status')));
    assert.equal(ring['ringSize'], 16);
  });

  describe('an app over the same KV with a minimal admin API', () => {
    let listener: HttpListener;
    let ready = false;
    before(async () => {
      const admin: AdminApi = {
        memberStatus: async () => ({ members: [] }),
        ringStatus: async () => Promise.reject(Object.assign(new Error('ring is busy'), { statusCode: 409 })),
        join: async (n) => ({ staged: n }),
      };
      const app = createHttpApp({ kv: node.kv, admin, metrics: node.metrics, logger: pino({ level: 'silent' }), maxValueSize: 16, isReady: () => ready, stats: () => ({}), now: Date.now });
      listener = await listenHttp(app, 0, '127.0.0.1');
    });
    after(() => listener.close());
    const at = (p: string): string => `http://127.0.0.1:${listener.address.port}${p}`;

    it('answers 501 for capabilities this node does not have', async () => {
      const cases: [string, string, string?][] = [
        ['GET', '/admin/transfers'],
        ['POST', '/admin/cluster/leave', '{"node":"rkv@other"}'],
        ['POST', '/admin/cluster/commit'],
        ['GET', '/admin/count/b'],
        ['GET', '/buckets/b/keys?keys=true'],
      ];
      for (const [method, p, body] of cases) {
        const res = await fetch(at(p), body === undefined ? { method } : { method, body, headers: { 'content-type': 'application/json' } });
        assert.equal(res.status, 501, p);
        const err = await json(res);
        assert.equal(err['error'], 'not_implemented');
        assert.match(String(err['message']), /is not available on this node version/);
      }
    });

    it('validates admin bodies and honours an error statusCode', async () => {
      const broken = await fetch(at('/admin/cluster/join'), { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
      assert.equal(broken.status, 400);
      assert.equal((await fetch(at('/admin/cluster/join'), { method: 'POST', body: '{}' })).status, 400);
      // curl -d sends a form content type; the body is read as JSON all the same.
      const ok = await fetch(at('/admin/cluster/join'), { method: 'POST', body: '{"node":"rkv@b"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.deepEqual(await json(ok), { staged: 'rkv@b' });
      const busy = await fetch(at('/admin/ring-status'));
      assert.equal(busy.status, 409);
      assert.equal((await json(busy))['message'], 'ring is busy');
    });

    it('uses its own value limit and readiness', async () => {
      assert.equal((await fetch(at('/buckets/b/keys/k'), { method: 'PUT', body: 'x'.repeat(17) })).status, 413);
      assert.equal((await fetch(at('/health/ready'))).status, 503);
      ready = true;
      assert.equal((await fetch(at('/health/ready'))).status, 200);
    });

    it('reports a port in use clearly', async () => {
      await assert.rejects(listenHttp(express(), listener.address.port, '127.0.0.1'), {
        message: `port ${listener.address.port} already in use (http listener on 127.0.0.1)`,
      });
    });
  });

  it('close() lets an in-flight request finish', async () => {
    const app = express();
    app.get('/slow', (_req, res) => {
      setTimeout(() => res.send('done'), 150);
    });
    const l = await listenHttp(app, 0, '127.0.0.1');
    const pending = fetch(`http://127.0.0.1:${l.address.port}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    await l.close();
    assert.equal(await pending, 'done');
    assert.ok(Date.now() - started < 2000, 'close does not wait for idle keep-alive sockets');
  });
});
