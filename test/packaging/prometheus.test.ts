import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { freePort } from '../support/free_port.js';
import path from 'node:path';
import { stringify } from 'yaml';
import type { NodeConfig } from '../../node/src/config/node_config.js';
import { testNodeConfig } from '../support/node_config.js';
import { startNode, type RkvNode } from '../../node/src/node.js';
import { Metrics } from '../../node/src/api/metrics.js';
import { CHART, only, render, requirePrometheusTool, run, tmpDir } from './helpers.js';

/**
 * The alerting rules and the dashboard against real Prometheus tooling:
 * promtool checks and unit-tests the rules; a real Prometheus scrapes a real
 * rkv node and evaluates every alert expression and every dashboard query.
 */
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}
interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  title: string;
  type: string;
  targets?: Target[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

let groups: Group[];
let rules: Rule[];
let dashboard: Dashboard;
let work: string;

before(async () => {
  const objs = await render({ apiVersions: ['monitoring.coreos.com/v1'] });
  groups = (only(objs, 'PrometheusRule').spec as { groups: Group[] }).groups;
  rules = groups.flatMap((g) => g.rules);
  dashboard = JSON.parse(fs.readFileSync(path.join(CHART, 'dashboards', 'rkv.json'), 'utf8')) as Dashboard;
  work = tmpDir('prometheus');
  fs.writeFileSync(path.join(work, 'rules.yaml'), stringify({ groups }));
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Grafana variables replaced by values a person would pick (all nodes). */
const DASHBOARD_VARS: Record<string, string> = { namespace: 'test', cluster: 'rkv', pod: '.*', __rate_interval: '1m', __interval: '15s', __range: '5m' };

function substitute(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (m, name: string) => DASHBOARD_VARS[name] ?? m);
}

function dashboardQueries(): { what: string; expr: string }[] {
  const out: { what: string; expr: string }[] = [];
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ what: `panel "${p.title}" ${t.refId}`, expr: substitute(t.expr) });
  return out;
}

/** Template variables `label_values(selector, label)`: the selector, and the label it must yield. */
function variableQueries(): { what: string; expr: string; label: string }[] {
  return dashboard.templating.list.filter((v) => v.type === 'query').map((v) => {
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
    assert.ok(m, `variable ${v.name}: ${q}`);
    return { what: `variable $${v.name}`, expr: substitute(m[1]!), label: m[2]! };
  });
}

describe('alerting rules', () => {
  it('promtool check rules accepts them', () => {
    const promtool = requirePrometheusTool('promtool');
    const r = run(promtool, ['check', 'rules', path.join(work, 'rules.yaml')]);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it('promtool test rules: every alert fires on the situation it describes, and not on a healthy cluster', () => {
    const promtool = requirePrometheusTool('promtool');
    // annotations that quote $value are left out of the comparison; the others are expanded here
    const unitRules = groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => (Object.values(r.annotations).some((a) => a.includes('$value')) ? { ...r, annotations: {} } : r)),
    }));
    fs.writeFileSync(path.join(work, 'unit-rules.yaml'), stringify({ groups: unitRules }));
    const annotationsOf = (alert: string, labels: Record<string, string>) => {
      const r = unitRules.flatMap((g) => g.rules).find((x) => x.alert === alert);
      assert.ok(r, alert);
      return Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, v.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, l: string) => labels[l] ?? '')]));
    };
    const sevOf = (alert: string) => rules.find((r) => r.alert === alert)!.labels.severity!;
    const expect = (alert: string, ...alerts: Record<string, string>[]) => alerts.map((labels) => {
      const all = { ...labels, severity: sevOf(alert) };
      return { exp_labels: all, exp_annotations: annotationsOf(alert, { ...all, alertname: alert }) };
    });
    const c = { job: 'rkv', namespace: 'ns', service: 'c' };
    const d = { job: 'rkv', namespace: 'ns', service: 'd' };
    const sel = (labels: Record<string, string>, name: string) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
    const tests = [
      {
        name: 'a node that stops answering scrapes',
        series: [
          [sel({ ...c, pod: 'c-0', instance: '10.0.0.1:8098' }, 'up'), '1x15'],
          [sel({ ...c, pod: 'c-1', instance: '10.0.0.2:8098' }, 'up'), '1 1 0x13'],
          [sel({ job: 'rkv-operator', namespace: 'ops', pod: 'op-0', instance: '10.0.0.9:8080' }, 'up'), '1 0x14'],
        ],
        checks: [
          { at: '3m', alert: 'RkvNodeDown', exp: [] },
          { at: '6m', alert: 'RkvNodeDown', exp: expect('RkvNodeDown', { ...c, pod: 'c-1', instance: '10.0.0.2:8098' }) },
          { at: '3m', alert: 'RkvOperatorDown', exp: [] },
          { at: '10m', alert: 'RkvOperatorDown', exp: expect('RkvOperatorDown', { job: 'rkv-operator', namespace: 'ops', pod: 'op-0', instance: '10.0.0.9:8080' }) },
        ],
      },
      {
        name: 'quorum failures: rising in c (10% of requests), none in d',
        series: [
          [sel({ ...c, pod: 'c-0', op: 'put', kind: 'w' }, 'rkv_quorum_failures_total'), '0+60x40'],
          [sel({ ...c, pod: 'c-0', op: 'put', outcome: 'ok' }, 'rkv_coordinator_duration_seconds_count'), '0+600x40'],
          [sel({ ...d, pod: 'd-0', op: 'put', kind: 'w' }, 'rkv_quorum_failures_total'), '5x40'],
          [sel({ ...d, pod: 'd-0', op: 'put', outcome: 'ok' }, 'rkv_coordinator_duration_seconds_count'), '0+600x40'],
        ],
        checks: [
          { at: '5m', alert: 'RkvQuorumFailuresRising', exp: [] },
          { at: '20m', alert: 'RkvQuorumFailuresRising', exp: expect('RkvQuorumFailuresRising', { namespace: 'ns', service: 'c' }) },
          { at: '20m', alert: 'RkvQuorumFailuresHigh', exp: expect('RkvQuorumFailuresHigh', { namespace: 'ns', service: 'c' }) },
        ],
      },
      {
        name: 'handoffs: c has pending transfers and finishes none, d makes progress',
        series: [
          [sel({ ...c, pod: 'c-0' }, 'rkv_pending_ownership_transfers'), '4x60'],
          [sel({ ...c, pod: 'c-0', type: 'ownership', outcome: 'ok' }, 'rkv_handoffs_total'), '7x60'],
          [sel({ ...c, pod: 'c-0', type: 'hinted', outcome: 'error' }, 'rkv_handoffs_total'), '0+1x60'],
          [sel({ ...d, pod: 'd-0' }, 'rkv_pending_ownership_transfers'), '4x60'],
          [sel({ ...d, pod: 'd-0', type: 'ownership', outcome: 'ok' }, 'rkv_handoffs_total'), '0+1x60'],
        ],
        checks: [
          { at: '5m', alert: 'RkvHandoffsStalled', exp: [] },
          { at: '45m', alert: 'RkvHandoffsStalled', exp: expect('RkvHandoffsStalled', { namespace: 'ns', service: 'c' }) },
          { at: '45m', alert: 'RkvHandoffsFailing', exp: expect('RkvHandoffsFailing', { namespace: 'ns', service: 'c', type: 'hinted' }) },
        ],
      },
      {
        name: 'replication: c has three ring members and two nodes up, d three and three',
        series: [
          ...['c-0', 'c-1'].flatMap((pod) => [
            [sel({ ...c, pod }, 'up'), '1x30'],
            ...['c-0', 'c-1', 'c-2'].map((n) => [sel({ ...c, pod, node: `rkv@${n}` }, 'rkv_ring_ownership_ratio'), '0.33x30']),
          ]),
          ...['d-0', 'd-1', 'd-2'].flatMap((pod) => [
            [sel({ ...d, pod }, 'up'), '1x30'],
            ...['d-0', 'd-1', 'd-2'].map((n) => [sel({ ...d, pod, node: `rkv@${n}` }, 'rkv_ring_ownership_ratio'), '0.33x30']),
          ]),
          [sel({ ...c, pod: 'c-0' }, 'rkv_fallback_writes_total'), '0+30x30'],
          [sel({ ...d, pod: 'd-0' }, 'rkv_fallback_writes_total'), '12x30'],
        ],
        checks: [
          { at: '5m', alert: 'RkvPartitionsUnderReplicated', exp: [] },
          { at: '15m', alert: 'RkvPartitionsUnderReplicated', exp: expect('RkvPartitionsUnderReplicated', { namespace: 'ns', service: 'c' }) },
          { at: '25m', alert: 'RkvFallbackWrites', exp: expect('RkvFallbackWrites', { namespace: 'ns', service: 'c' }) },
        ],
      },
      {
        name: 'disks: an rkv volume filling up and one almost full; another application\'s volume is ignored',
        series: [
          [sel({ ...c, pod: 'c-0', backend: 'rocksdb' }, 'rkv_backend_size_bytes'), '1000x300'],
          [sel({ ...c, pod: 'c-1', backend: 'rocksdb' }, 'rkv_backend_size_bytes'), '1000x300'],
          ['kubelet_volume_stats_capacity_bytes{namespace="ns", persistentvolumeclaim="data-c-0"}', '100x300'],
          ['kubelet_volume_stats_available_bytes{namespace="ns", persistentvolumeclaim="data-c-0"}', '14-0.01x300'],
          ['kubelet_volume_stats_capacity_bytes{namespace="ns", persistentvolumeclaim="data-c-1"}', '100x300'],
          ['kubelet_volume_stats_available_bytes{namespace="ns", persistentvolumeclaim="data-c-1"}', '4x300'],
          ['kubelet_volume_stats_capacity_bytes{namespace="ns", persistentvolumeclaim="data-postgres-0"}', '100x300'],
          ['kubelet_volume_stats_available_bytes{namespace="ns", persistentvolumeclaim="data-postgres-0"}', '1x300'],
        ],
        checks: [
          { at: '30m', alert: 'RkvDiskFillingUp', exp: [] },
          // data-c-1 has little room but does not shrink: almost full, not filling up
          { at: '3h', alert: 'RkvDiskFillingUp', exp: expect('RkvDiskFillingUp', { namespace: 'ns', persistentvolumeclaim: 'data-c-0' }) },
          { at: '10m', alert: 'RkvDiskAlmostFull', exp: expect('RkvDiskAlmostFull', { namespace: 'ns', persistentvolumeclaim: 'data-c-1' }) },
        ],
      },
    ];
    const covered = new Set(tests.flatMap((t) => t.checks.filter((ch) => ch.exp.length).map((ch) => ch.alert)));
    assert.deepEqual(rules.map((r) => r.alert).filter((a) => !covered.has(a)), [], 'every alert has a firing case');
    const file = {
      rule_files: ['unit-rules.yaml'],
      evaluation_interval: '1m',
      tests: tests.map((t) => ({
        name: t.name,
        interval: '1m',
        input_series: t.series.map(([series, values]) => ({ series, values })),
        alert_rule_test: t.checks.map((ch) => ({ eval_time: ch.at, alertname: ch.alert, exp_alerts: ch.exp })),
      })),
    };
    fs.writeFileSync(path.join(work, 'alerts_test.yaml'), stringify(file));
    const r = run(promtool, ['test', 'rules', 'alerts_test.yaml'], { cwd: work });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /SUCCESS/);
  });
});

/** Label names each rkv metric family has, from the node's own metric definitions. */
function metricFamilies(): Map<string, { type: string; labels: string[] }> {
  const m = new Metrics();
  const out = new Map<string, { type: string; labels: string[] }>();
  for (const metric of m.registry.getMetricsAsArray()) {
    const x = metric as unknown as { name: string; type: string; labelNames?: string[] };
    out.set(x.name, { type: String(x.type), labels: [...(x.labelNames ?? [])] });
  }
  return out;
}

describe('metric and label names', () => {
  it('every rkv_ series and label the rules and the dashboard use is one the node exports', () => {
    const families = metricFamilies();
    const TARGET_LABELS = ['job', 'instance', 'namespace', 'service', 'pod', 'container', 'endpoint'];
    const exprs = [
      ...rules.map((r) => ({ what: `alert ${r.alert}`, expr: r.expr })),
      ...dashboardQueries(),
      ...variableQueries(),
    ];
    for (const { what, expr } of exprs) {
      const allowed = new Set([...TARGET_LABELS, 'le', 'persistentvolumeclaim']);
      for (const [, name] of expr.matchAll(/\b(rkv_[a-z0-9_]+)/g)) {
        const family = families.get(name!) ?? families.get(name!.replace(/_(bucket|sum|count)$/, ''));
        assert.ok(family, `${what}: ${name} is not a metric of node/src/api/metrics.ts`);
        if (name !== name!.replace(/_(bucket|sum|count)$/, '')) assert.equal(family.type, 'histogram', `${what}: ${name} of a ${family.type}`);
        for (const l of family.labels) allowed.add(l);
      }
      const used = [
        ...[...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',')),
        ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]!)),
      ].map((l) => l.trim()).filter(Boolean);
      for (const l of used) assert.ok(allowed.has(l), `${what}: label "${l}" is on none of its series (${expr})`);
    }
  });

  it('the dashboard has the promised panels', () => {
    const all = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const m of ['rkv_request_duration_seconds_count', 'rkv_request_duration_seconds_bucket', 'rkv_quorum_failures_total', 'rkv_ring_ownership_ratio', 'rkv_handoffs_total', 'rkv_handoff_bytes_total', 'rkv_read_repairs_total', 'rkv_siblings_bucket', 'rkv_backend_size_bytes']) {
      assert.ok(all.includes(m), `a panel queries ${m}`);
    }
  });
});


interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] };
}

describe('a real Prometheus scraping a real rkv node', () => {
  let node: RkvNode;
  let resp: net.Socket | undefined;
  let prom: ChildProcess | undefined;
  let promUrl = '';
  let promLog = '';
  let dataDir: string;

  async function query(expr: string): Promise<QueryResult> {
    const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as QueryResult;
  }

  async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nprometheus log:\n${promLog.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  before(async () => {
    const prometheus = requirePrometheusTool('prometheus');
    dataDir = tmpDir('prom-node');
    const cfg: NodeConfig = testNodeConfig(path.join(dataDir, 'node'), { backend: 'rocksdb', bucketDefaults: { allow_mult: true } });
    node = await startNode(cfg);
    const http = `http://${node.addresses.http}`;
    // traffic, so that request, coordinator, sibling and backend series have samples
    for (let i = 0; i < 30; i++) {
      await fetch(`${http}/buckets/b/keys/k${i}`, { method: 'PUT', body: `value ${i}`, headers: { 'content-type': 'text/plain' } });
      await fetch(`${http}/buckets/b/keys/k${i}`);
      if (i % 5 === 0) await fetch(`${http}/buckets/b/keys/k${i}`, { method: 'DELETE' });
    }
    // and a RESP client that stays connected
    const [host, respPort] = [node.addresses.resp.slice(0, node.addresses.resp.lastIndexOf(':')), Number(node.addresses.resp.slice(node.addresses.resp.lastIndexOf(':') + 1))];
    resp = net.connect(respPort, host);
    await new Promise<void>((resolve, reject) => {
      resp!.once('error', reject);
      resp!.once('data', () => resolve());
      resp!.write('SET rk v\r\nGET rk\r\n');
    });

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [path.join(work, 'rules.yaml')],
      scrape_configs: [{
        job_name: 'rkv',
        metrics_path: '/metrics',
        // the target labels the chart's ServiceMonitor gives a node (job from the Service's app.kubernetes.io/name)
        static_configs: [{ targets: [node.addresses.http], labels: { namespace: 'test', service: 'rkv', pod: 'rkv-0' } }],
      }],
    };
    fs.writeFileSync(path.join(dataDir, 'prometheus.yml'), stringify(config));
    prom = spawn(prometheus, [
      `--config.file=${path.join(dataDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dataDir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prom.stdout?.on('data', (d: Buffer) => (promLog += d.toString()));
    prom.stderr?.on('data', (d: Buffer) => (promLog += d.toString()));
    // two scrapes at least, so rate() has two samples
    await waitFor('two scrapes of the node', async () => {
      const r = await query('count_over_time(up{job="rkv"}[1m]) >= 3 and up{job="rkv"} == 1');
      return r.data?.result.length ? true : undefined;
    });
    // the node measures its backend every 10 s
    await waitFor('the backend size', async () => {
      const r = await query('rkv_backend_size_bytes{job="rkv"}');
      return r.data?.result.length ? true : undefined;
    });
    await waitFor('the rules evaluated', async () => {
      const res = await fetch(`${promUrl}/api/v1/rules`);
      const body = (await res.json()) as { data: { groups: { rules: { lastEvaluation: string }[] }[] } };
      const evaluated = body.data.groups.flatMap((g) => g.rules).every((r) => !r.lastEvaluation.startsWith('0001-'));
      return evaluated ? true : undefined;
    });
  });

  after(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (prom.exitCode === null) prom.kill('SIGKILL');
    }
    resp?.destroy();
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('scrapes the node: up is 1 with the ServiceMonitor\'s labels', async () => {
    const r = await query('up{job="rkv", namespace="test", service="rkv", pod="rkv-0"}');
    assert.equal(r.status, 'success');
    assert.equal(r.data?.result[0]?.value?.[1], '1');
  });

  it('evaluates every alert expression without error (none firing on a healthy node)', async () => {
    for (const rule of rules) {
      const r = await query(rule.expr);
      assert.equal(r.status, 'success', `${rule.alert}: ${r.error ?? ''}\n${rule.expr}`);
      assert.deepEqual(r.data?.result, [], `${rule.alert} on a healthy node`);
    }
    const res = await fetch(`${promUrl}/api/v1/rules`);
    const body = (await res.json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string; state: string }[] }[] } };
    const loaded = body.data.groups.flatMap((g) => g.rules);
    assert.equal(loaded.length, rules.length, 'Prometheus loaded every rule');
    for (const r of loaded) {
      assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
      assert.equal(r.state, 'inactive', `${r.name} is ${r.state} on a healthy node`);
    }
  });

  it('evaluates every dashboard query and variable without error, with data where the node has it', async () => {
    for (const { what, expr } of dashboardQueries()) {
      const r = await query(expr);
      assert.equal(r.status, 'success', `${what}: ${r.error ?? ''}\n${expr}`);
    }
    for (const { what, expr, label } of variableQueries()) {
      const r = await query(expr);
      assert.equal(r.status, 'success', `${what}: ${r.error ?? ''}`);
      assert.ok(r.data?.result.some((s) => s.metric[label]), `${what} finds values of ${label}`);
    }
    // series the node exports from its first request on
    const withData = ['Nodes up', 'Nodes down', 'Ring partitions', 'Pending transfers', 'Requests/s', 'Backend size', 'Operations/s by operation',
      'Latency p99 by operation', 'Latency p50 by operation', 'Coordinator latency p99', 'Ring ownership per node', 'Vnodes per node',
      'Read repairs/s', 'Siblings per read', 'Tombstones and fallback writes/s', 'Backend size per node', 'Client connections'];
    for (const title of withData) {
      const panel = dashboard.panels.find((p) => p.title === title);
      assert.ok(panel?.targets?.length, `panel ${title}`);
      const r = await query(substitute(panel.targets[0]!.expr));
      assert.ok((r.data?.result.length ?? 0) > 0, `panel "${title}" shows data: ${panel.targets[0]!.expr}`);
    }
    const ops = await query(substitute(dashboard.panels.find((p) => p.title === 'Operations/s by operation')!.targets![0]!.expr));
    const seen = new Set(ops.data?.result.map((s) => s.metric.op));
    assert.ok(seen.size >= 2, `operations by name: ${[...seen].join(', ')}`);
  });
});
