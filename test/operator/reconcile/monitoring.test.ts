import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { stringify } from 'yaml';
import { buildPrometheusRule, buildServiceMonitor } from '../../../operator/src/reconcile/build/monitoring.js';
import { buildClientService, buildHeadlessService } from '../../../operator/src/reconcile/build/services.js';
import { SPEC_HASH } from '../../../operator/src/reconcile/names.js';
import { reconcile } from '../../../operator/src/reconcile/reconcile.js';
import type { Action } from '../../../operator/src/reconcile/types.js';
import { requirePrometheusTool } from '../../packaging/helpers.js';
import { cluster, input, nonEvents, statusWith, steady } from './fixtures.js';

type Labelled = { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> } };
type Sm = Labelled & { spec: { jobLabel: string; selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: { port: string; path: string; relabelings: { sourceLabels: string[]; regex: string; action: string }[] }[] } };
type Pr = Labelled & { spec: { groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[] } };

const applied = (actions: readonly Action[], kind: string) => actions.flatMap((a) => (a.kind === 'apply' && a.object.kind === kind ? [a.object] : []));

describe('reconcile: spec.monitoring (prometheus-operator objects)', () => {
  const on = cluster({ monitoring: { serviceMonitor: true, prometheusRule: true } });

  it('asked for and served: a ServiceMonitor and a PrometheusRule owned by the cluster', () => {
    const c = { ...on, status: statusWith(on, undefined) };
    const d = reconcile(input(c, { ...steady(c, 3), monitoringApi: true }));
    assert.deepEqual(nonEvents(d.actions), ['apply:ServiceMonitor', 'apply:PrometheusRule']);
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      const o = applied(d.actions, kind)[0] as unknown as { metadata: { namespace: string; ownerReferences: { kind: string; name: string; controller: boolean }[] } };
      assert.equal(o.metadata.namespace, 'ns');
      assert.deepEqual(o.metadata.ownerReferences.map((r) => [r.kind, r.name, r.controller]), [['RkvCluster', 'c', true]]);
    }
    // once they exist with the built hashes, nothing more is done
    const built = [buildServiceMonitor(c), buildPrometheusRule(c)] as unknown as Labelled[];
    const obs = steady(c, 3);
    const hashes = { ...obs.hashes, ...Object.fromEntries(built.map((o, i) => [`${i === 0 ? 'ServiceMonitor' : 'PrometheusRule'}/${o.metadata.name}`, o.metadata.annotations[SPEC_HASH]])) };
    assert.deepEqual(nonEvents(reconcile(input(c, { ...obs, hashes, monitoringApi: true })).actions), []);
  });

  it('no longer asked for: the objects the operator made are deleted', () => {
    const off = cluster({ monitoring: { serviceMonitor: false, prometheusRule: true } });
    const c = { ...off, status: statusWith(off, undefined) };
    const obs = steady(c, 3);
    const rule = buildPrometheusRule(c) as unknown as Labelled;
    const hashes = { ...obs.hashes, 'ServiceMonitor/c': 'old', [`PrometheusRule/${rule.metadata.name}`]: rule.metadata.annotations[SPEC_HASH] };
    assert.deepEqual(nonEvents(reconcile(input(c, { ...obs, hashes, monitoringApi: true })).actions), ['delete:ServiceMonitor/c']);
    // nothing asked, nothing there: no calls at all
    const none = cluster();
    assert.deepEqual(nonEvents(reconcile(input({ ...none, status: statusWith(none, undefined) }, { ...steady(none, 3), monitoringApi: true })).actions), []);
  });

  it('asked for without prometheus-operator installed: Degraded with the reason, and the cluster is otherwise served', () => {
    const c = { ...on, status: statusWith(on, undefined) };
    const d = reconcile(input(c, { ...steady(c, 3), monitoringApi: false }));
    assert.deepEqual(nonEvents(d.actions), []);
    const degraded = d.status.conditions?.find((x) => x.type === 'Degraded');
    assert.equal(degraded?.status, 'True');
    assert.match(degraded?.message ?? '', /ServiceMonitor and a PrometheusRule.*monitoring\.coreos\.com\/v1/);
  });

  it('objects it may not read (no RBAC for them): Degraded with the API error, nothing applied', () => {
    const c = { ...on, status: statusWith(on, undefined) };
    const d = reconcile(input(c, { ...steady(c, 3), monitoringApi: true, monitoringError: 'GET /apis/monitoring.coreos.com/v1/namespaces/ns/servicemonitors/c: 403 forbidden' }));
    assert.deepEqual(nonEvents(d.actions), []);
    assert.match(d.status.conditions?.find((x) => x.type === 'Degraded')?.message ?? '', /cannot read the ServiceMonitor and the PrometheusRule: .*403/);
  });

  it('the ServiceMonitor scrapes /metrics on the client Service only, which labels every series job="rkv", service=<cluster>', () => {
    const c = cluster({}, undefined, { name: 'c', namespace: 'ns' });
    const sm = buildServiceMonitor(c) as unknown as Sm;
    new ServiceMonitor(sm as never).validate();
    const client = buildClientService(c) as unknown as Labelled;
    const headless = buildHeadlessService(c) as unknown as Labelled;
    const selects = (svc: Labelled) => Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v);
    assert.ok(selects(client) && selects(headless), 'both Services carry the selected labels');
    // the headless Service (same pods) is dropped by name, so each node is scraped once
    const drop = sm.spec.endpoints[0]!.relabelings.find((r) => r.action === 'drop')!;
    assert.deepEqual(drop.sourceLabels, ['__meta_kubernetes_service_name']);
    assert.ok(new RegExp(`^(?:${drop.regex})$`).test(headless.metadata.name) && !new RegExp(`^(?:${drop.regex})$`).test(client.metadata.name));
    assert.equal(client.metadata.labels[sm.spec.jobLabel], 'rkv');
    assert.deepEqual(sm.spec.namespaceSelector.matchNames, ['ns']);
    assert.deepEqual([sm.spec.endpoints[0]!.port, sm.spec.endpoints[0]!.path], ['http', '/metrics']);
  });

  it('the PrometheusRule holds the chart\'s alerts narrowed to this cluster, and promtool accepts it', () => {
    const c = cluster({}, undefined, { name: 'c', namespace: 'ns' });
    const pr = buildPrometheusRule(c) as unknown as Pr;
    new PrometheusRule(pr as never).validate();
    const rules = pr.spec.groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((r) => r.alert).sort(), ['RkvDiskAlmostFull', 'RkvDiskFillingUp', 'RkvFallbackWrites', 'RkvHandoffsFailing', 'RkvHandoffsStalled', 'RkvNodeDown', 'RkvPartitionsUnderReplicated', 'RkvQuorumFailuresHigh', 'RkvQuorumFailuresRising']);
    for (const r of rules) {
      assert.doesNotMatch(r.expr, /placeholder/, r.alert);
      assert.match(r.expr, /job="rkv", namespace="ns", service="c"/, r.alert);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-rules-'));
    try {
      const file = path.join(dir, 'rules.yaml');
      fs.writeFileSync(file, stringify({ groups: pr.spec.groups }));
      const out = execFileSync(requirePrometheusTool('promtool'), ['check', 'rules', file], { encoding: 'utf8' });
      assert.match(out, /SUCCESS: 9 rules found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
