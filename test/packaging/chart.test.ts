import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { PolicyRule } from 'kubernetes-types/rbac/v1.js';
import { CHART, NAMESPACE, ROOT, chartCrd, distModule, find, helm, only, parseObjects, render, run, valuesFile, type RenderOptions } from './helpers.js';
import { Validator, type KubeObject } from './validate.js';

/**
 * The Helm chart, rendered by the real helm binary: lint, and for several
 * value sets every object validated against the upstream schemas, plus the
 * properties the chart promises (security, spreading, RBAC, monitoring).
 */
const MONITORING_API = 'monitoring.coreos.com/v1';

const VALUE_SETS: Record<string, RenderOptions> = {
  defaults: {},
  'with an RkvCluster': { values: { cluster: { enabled: true } } },
  'RkvCluster with custom spec and resources': {
    release: 'prod',
    values: {
      operator: { replicas: 2, resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } }, watchNamespace: 'data', logLevel: 'debug', podAddress: 'ip' },
      cluster: {
        enabled: true,
        name: 'orders',
        keepOnUninstall: false,
        image: 'registry.example/rkv:1.2.3',
        spec: {
          replicas: 5, nVal: 3, quorum: { r: 2, w: 2 }, ring: { size: 128, autoResize: true }, backend: 'rocksdb',
          storage: { size: '50Gi', storageClassName: 'fast', retainOnScaleDown: false },
          resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '4', memory: '8Gi' } },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'rkv', effect: 'NoSchedule' }],
          transferLimit: 4, logLevel: 'warn', monitoring: { serviceMonitor: true, prometheusRule: true },
        },
      },
      monitoring: { serviceMonitor: { labels: { release: 'kube-prometheus-stack' }, interval: '15s', namespaces: ['data'] }, prometheusRule: { alertLabels: { team: 'storage' } } },
    },
    apiVersions: [MONITORING_API],
  },
  'monitoring API present': { apiVersions: [MONITORING_API] },
  'monitoring API present, monitoring off': {
    apiVersions: [MONITORING_API],
    values: { monitoring: { serviceMonitor: { enabled: false }, prometheusRule: { enabled: false }, dashboards: { enabled: false } }, rbac: { monitoring: false } },
  },
  'no RBAC, existing ServiceAccount, no PDB': {
    values: { rbac: { create: false }, serviceAccount: { create: false, name: 'my-sa' }, operator: { podDisruptionBudget: { enabled: false }, leaderElection: false } },
  },
};

const validator = new Validator();
const rendered = new Map<string, KubeObject[]>();

before(async () => {
  validator.addCrd(chartCrd());
  for (const [name, o] of Object.entries(VALUE_SETS)) rendered.set(name, await render(o));
});

function objects(set: string): KubeObject[] {
  const o = rendered.get(set);
  assert.ok(o, `value set ${set} rendered`);
  return o;
}

type Container = { name: string; args?: string[]; resources?: { requests?: Record<string, string>; limits?: Record<string, string> }; securityContext?: Record<string, unknown>; image: string };
type PodSpec = { containers: Container[]; securityContext?: Record<string, unknown>; affinity?: Record<string, unknown>; topologySpreadConstraints?: { labelSelector?: { matchLabels?: Record<string, string> } }[]; serviceAccountName?: string };

function podSpec(deploy: KubeObject): PodSpec {
  return (deploy.spec as { template: { spec: PodSpec } }).template.spec;
}

describe('helm lint', () => {
  it('passes for the defaults and every value set (--strict)', async () => {
    for (const [name, o] of Object.entries(VALUE_SETS)) {
      const args = ['lint', '--strict', CHART];
      if (o.values) args.push('-f', valuesFile(o.values));
      const r = await helm(args);
      assert.equal(r.status, 0, `helm lint (${name}) failed:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(r.stdout, /\[(ERROR|WARNING)\]/, `${name}: ${r.stdout}`);
    }
  });
});

describe('charts/rkv/ci value files (chart-testing, skaffold\'s kind profile)', () => {
  it('lint and render to valid objects', async () => {
    const files = fs.readdirSync(path.join(CHART, 'ci')).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const file = path.join(CHART, 'ci', f);
      const lint = await helm(['lint', '--strict', CHART, '-f', file]);
      assert.equal(lint.status, 0, `${f}: ${lint.stdout}${lint.stderr}`);
      const r = await helm(['template', 'rkv', CHART, '--namespace', NAMESPACE, '--include-crds', '--api-versions', MONITORING_API, '-f', file]);
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
      assert.deepEqual(await validator.problemsOfAll(parseObjects(r.stdout)), [], f);
    }
  });
});

describe('helm template', () => {
  for (const name of Object.keys(VALUE_SETS)) {
    it(`${name}: every object is valid against the upstream schemas`, async () => {
      const objs = objects(name);
      assert.ok(objs.length >= 4, `${objs.length} objects`);
      const problems = await validator.problemsOfAll(objs);
      assert.deepEqual(problems, []);
      const names = objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      assert.equal(new Set(names).size, names.length, `duplicate objects: ${names.join(', ')}`);
    });
  }

  it('the validator catches what it should (a wrong type, an unknown field, a bad custom resource)', async () => {
    const deploy = structuredClone(only(objects('defaults'), 'Deployment'));
    podSpec(deploy).containers[0]!.securityContext = { runAsNonRoot: 'yes', readOnlyRootFilesytem: true };
    const p = await validator.problems(deploy);
    assert.ok(p.some((x) => /runAsNonRoot must be boolean/.test(x)), p.join('\n'));
    assert.ok(p.some((x) => /unknown field .*readOnlyRootFilesytem/.test(x)), p.join('\n'));
    const cluster = structuredClone(only(objects('with an RkvCluster'), 'RkvCluster'));
    (cluster.spec as Record<string, unknown>).backend = 'leveldb';
    (cluster.spec as Record<string, unknown>).replica = 3;
    const c = await validator.problems(cluster);
    assert.ok(c.some((x) => /backend must be equal to one of the allowed values/.test(x) && /replica\)/.test(x)), c.join('\n'));
     const sm = structuredClone(find(objects('monitoring API present'), 'ServiceMonitor')[0]!);
    (sm.spec as { endpoints: Record<string, unknown>[] }).endpoints[0]!.interval = 30;
    const m = await validator.problems(sm);
    assert.ok(m.some((x) => /endpoints\/0\/interval must be string/.test(x)), m.join('\n'));
  });

  it('every namespaced object lands in the release namespace', () => {
    const clusterScoped = new Set(['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'Namespace']);
    for (const o of objects('defaults')) {
      if (clusterScoped.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.kind}/${o.metadata.name}`);
      else assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name}`);
    }
  });

  it('ships the operator\'s CRD unchanged (operator/src/crd)', async () => {
    const { rkvClusterCRD } = await distModule<{ rkvClusterCRD(): unknown }>('operator/src/crd/crd.js');
    assert.deepEqual(only(objects('defaults'), 'CustomResourceDefinition'), rkvClusterCRD());
  });
});

describe('operator Deployment', () => {
  it('runs as non-root with a read-only root filesystem, no capabilities and no privilege escalation', () => {
    for (const set of Object.keys(VALUE_SETS)) {
      const spec = podSpec(only(objects(set), 'Deployment'));
      assert.equal(spec.securityContext?.runAsNonRoot, true, set);
      assert.ok(Number(spec.securityContext?.runAsUser) > 0, set);
      assert.deepEqual(spec.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
      for (const c of spec.containers) {
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${set} ${c.name}`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${set} ${c.name}`);
        assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] }, `${set} ${c.name}`);
      }
    }
  });

  it('has resource requests and limits by default, and takes custom ones', () => {
    const c = podSpec(only(objects('defaults'), 'Deployment')).containers[0]!;
    for (const r of ['cpu', 'memory']) {
      assert.ok(c.resources?.requests?.[r], `request ${r}`);
      assert.ok(c.resources?.limits?.[r], `limit ${r}`);
    }
    const custom = podSpec(only(objects('RkvCluster with custom spec and resources'), 'Deployment')).containers[0]!;
    assert.deepEqual(custom.resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } });
  });

  it('spreads replicas over hosts and zones, and has a PodDisruptionBudget selecting its pods', () => {
    const objs = objects('defaults');
    const deploy = only(objs, 'Deployment');
    const spec = podSpec(deploy);
    const selector = (deploy.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    const anti = (spec.affinity as { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } } }[] } }).podAntiAffinity;
    const term = anti.preferredDuringSchedulingIgnoredDuringExecution[0]!.podAffinityTerm;
    assert.equal(term.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(term.labelSelector.matchLabels, selector);
    assert.deepEqual(spec.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels, selector);
    const pdb = only(objs, 'PodDisruptionBudget');
    assert.deepEqual((pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, selector);
    assert.equal(find(objects('no RBAC, existing ServiceAccount, no PDB'), 'PodDisruptionBudget').length, 0);
  });

  it('its pods can never be mistaken for storage pods, even when the release and the cluster share a name', async () => {
    const { selectorLabels } = await distModule<{ selectorLabels(c: { name: string; namespace: string }): Record<string, string> }>('operator/src/reconcile/names.js');
    const objs = objects('with an RkvCluster');
    const cluster = only(objs, 'RkvCluster');
    const nodeSelector = selectorLabels({ name: cluster.metadata.name, namespace: NAMESPACE });
    const podLabels = (only(objs, 'Deployment').spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    const matches = Object.entries(nodeSelector).every(([k, v]) => podLabels[k] === v);
    assert.equal(matches, false, `operator pod labels ${JSON.stringify(podLabels)} match the storage selector ${JSON.stringify(nodeSelector)}`);
  });

  it('passes only flags the operator accepts', async () => {
    for (const set of Object.keys(VALUE_SETS)) {
      const c = podSpec(only(objects(set), 'Deployment')).containers[0]!;
      const args = c.args ?? [];
      assert.ok(args.length > 0, set);
      // the operator parses its flags, then fails on the missing kubeconfig before it listens anywhere
      const r = run(process.execPath, [path.join(ROOT, 'dist', 'operator', 'src', 'main.js'), ...args, '--kubeconfig', path.join(ROOT, 'no-such-kubeconfig')], { timeoutMs: 20_000 });
      assert.notEqual(r.status, 0);
      assert.doesNotMatch(r.stderr, /error: (unknown option|option|too many arguments)/, `${set}: ${args.join(' ')}\n${r.stderr}`);
      assert.match(r.stderr, /no-such-kubeconfig/, `${set}: the operator got past its flags:\n${r.stderr}`);
    }
    const ns = podSpec(only(objects('RkvCluster with custom spec and resources'), 'Deployment')).containers[0]!.args ?? [];
    assert.ok(ns.includes('--namespace=data'), ns.join(' '));
    assert.ok(ns.includes('--lease-name=prod-rkv-operator'), ns.join(' '));
    assert.ok((podSpec(only(objects('no RBAC, existing ServiceAccount, no PDB'), 'Deployment')).containers[0]!.args ?? []).includes('--no-leader-elect'));
  });

  it('uses the chart\'s appVersion as the default image tag', () => {
    const c = podSpec(only(objects('defaults'), 'Deployment')).containers[0]!;
    assert.equal(c.image, 'rkv-operator:0.1.0');
  });
});

describe('RBAC', () => {
  const norm = (rules: PolicyRule[]) => rules.map((r) => JSON.stringify({ g: [...(r.apiGroups ?? [])].sort(), r: [...(r.resources ?? [])].sort(), v: [...r.verbs].sort() })).sort();

  it('grants exactly the rules the operator declares (operator/src/k8s/rbac.ts), cluster-wide by default', async () => {
    const { CLUSTER_RULES, LEADER_RULES } = await distModule<{ CLUSTER_RULES: PolicyRule[]; LEADER_RULES: PolicyRule[] }>('operator/src/k8s/rbac.js');
    const objs = objects('defaults');
    const role = only(objs, 'ClusterRole');
    assert.deepEqual(norm(role.rules as PolicyRule[]), norm(CLUSTER_RULES));
    for (const r of role.rules as PolicyRule[]) assert.ok(!r.verbs.includes('*') && !(r.resources ?? []).includes('*') && !(r.apiGroups ?? []).includes('*'), 'no wildcards');
    const leader = only(objs, 'Role');
    assert.equal(leader.metadata.namespace, NAMESPACE);
    assert.deepEqual(norm(leader.rules as PolicyRule[]), norm(LEADER_RULES));
    const sa = only(objs, 'ServiceAccount');
    for (const b of [only(objs, 'ClusterRoleBinding'), only(objs, 'RoleBinding')]) {
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NAMESPACE }]);
    }
    assert.equal(podSpec(only(objs, 'Deployment')).serviceAccountName, sa.metadata.name);
  });

  it('with operator.watchNamespace: a Role and RoleBinding in that namespace, no ClusterRole', () => {
    const objs = objects('RkvCluster with custom spec and resources');
    assert.equal(find(objs, 'ClusterRole').length, 0);
    assert.equal(find(objs, 'ClusterRoleBinding').length, 0);
    const watched = find(objs, 'Role').filter((r) => r.metadata.namespace === 'data');
    assert.equal(watched.length, 1);
    assert.equal(find(objs, 'RoleBinding').filter((r) => r.metadata.namespace === 'data').length, 1);
  });

  it('rbac.create=false and serviceAccount.create=false render neither, and use the named ServiceAccount', () => {
    const objs = objects('no RBAC, existing ServiceAccount, no PDB');
    for (const k of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']) assert.equal(find(objs, k).length, 0, k);
    assert.equal(podSpec(only(objs, 'Deployment')).serviceAccountName, 'my-sa');
  });
});

describe('RkvCluster from values', () => {
  it('is absent by default and present with cluster.enabled', () => {
    assert.equal(find(objects('defaults'), 'RkvCluster').length, 0);
    const c = only(objects('with an RkvCluster'), 'RkvCluster');
    assert.equal(c.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const spec = c.spec as { image: string; replicas: number; resources: { requests: Record<string, string>; limits: Record<string, string> } };
    assert.equal(spec.image, 'rkv:0.1.0');
    assert.equal(spec.replicas, 3);
    assert.ok(spec.resources.requests.cpu && spec.resources.limits.memory, 'nodes have requests and limits by default');
  });

  it('spreads the nodes over hosts and zones by default, selecting the labels the operator puts on them', async () => {
    const { selectorLabels } = await distModule<{ selectorLabels(c: { name: string; namespace: string }): Record<string, string> }>('operator/src/reconcile/names.js');
    const c = only(objects('with an RkvCluster'), 'RkvCluster');
    const spread = (c.spec as { topologySpreadConstraints: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[] }).topologySpreadConstraints;
    assert.deepEqual(spread.map((s) => s.topologyKey), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const s of spread) assert.deepEqual(s.labelSelector.matchLabels, selectorLabels({ name: c.metadata.name, namespace: NAMESPACE }));
  });

  it('passes a custom spec through', () => {
    const c = only(objects('RkvCluster with custom spec and resources'), 'RkvCluster');
    assert.equal(c.metadata.name, 'orders');
    assert.equal(c.metadata.annotations?.['helm.sh/resource-policy'], undefined);
    const spec = c.spec as Record<string, unknown>;
    assert.equal(spec.image, 'registry.example/rkv:1.2.3');
    assert.equal(spec.replicas, 5);
    assert.deepEqual(spec.ring, { size: 128, autoResize: true });
    assert.deepEqual(spec.storage, { size: '50Gi', storageClassName: 'fast', retainOnScaleDown: false });
    assert.deepEqual(spec.tolerations, [{ key: 'dedicated', operator: 'Equal', value: 'rkv', effect: 'NoSchedule' }]);
  });
});

describe('monitoring', () => {
  it('ServiceMonitors and the PrometheusRule exist only when the monitoring.coreos.com/v1 API does', () => {
    assert.equal(find(objects('defaults'), 'ServiceMonitor').length, 0);
    assert.equal(find(objects('defaults'), 'PrometheusRule').length, 0);
    assert.equal(find(objects('monitoring API present'), 'ServiceMonitor').length, 2);
    assert.equal(find(objects('monitoring API present'), 'PrometheusRule').length, 1);
    assert.equal(find(objects('monitoring API present, monitoring off'), 'ServiceMonitor').length, 0);
    assert.equal(find(objects('monitoring API present, monitoring off'), 'PrometheusRule').length, 0);
  });

  it('the node ServiceMonitor selects the Services the operator creates, on their http port', async () => {
    const services = await distModule<{ buildClientService(c: unknown): KubeObject; buildHeadlessService(c: unknown): KubeObject }>('operator/src/reconcile/build/services.js');
    const { withDefaults } = await distModule<{ withDefaults(s: unknown): unknown }>('operator/src/crd/spec.js');
    const cluster = { apiVersion: 'rkv.io/v1alpha1', kind: 'RkvCluster', metadata: { name: 'orders', namespace: 'data', uid: 'u' }, spec: withDefaults({}) };
    const sm = only(objects('monitoring API present'), 'ServiceMonitor', 'rkv-nodes');
    const spec = sm.spec as { selector: { matchLabels: Record<string, string> }; jobLabel: string; endpoints: { port: string; relabelings: { regex: string; action: string }[] }[] };
    for (const svc of [services.buildClientService(cluster), services.buildHeadlessService(cluster)]) {
      const labels = svc.metadata.labels ?? {};
      for (const [k, v] of Object.entries(spec.selector.matchLabels)) assert.equal(labels[k], v, `${svc.metadata.name} label ${k}`);
      assert.equal(labels[spec.jobLabel], 'rkv', 'job="rkv", the selector of the alerts and dashboard');
      const ports = (svc.spec as { ports: { name: string }[] }).ports.map((p) => p.name);
      assert.ok(ports.includes(spec.endpoints[0]!.port), `${svc.metadata.name} has port ${spec.endpoints[0]!.port}`);
    }
    // only the client Service is scraped (the headless one covers the same pods)
    const drop = spec.endpoints[0]!.relabelings.find((r) => r.action === 'drop');
    assert.ok(drop);
    assert.ok(new RegExp(`^(?:${drop.regex})$`).test(services.buildHeadlessService(cluster).metadata.name));
    assert.ok(!new RegExp(`^(?:${drop.regex})$`).test(services.buildClientService(cluster).metadata.name));
  });

  it('custom labels reach the ServiceMonitors, the rule and its alerts', () => {
    const objs = objects('RkvCluster with custom spec and resources');
    for (const sm of find(objs, 'ServiceMonitor')) assert.equal(sm.metadata.labels?.release, 'kube-prometheus-stack');
    const rule = only(objs, 'PrometheusRule');
    const alerts = (rule.spec as { groups: { rules: { labels?: Record<string, string> }[] }[] }).groups.flatMap((g) => g.rules);
    for (const a of alerts) assert.equal(a.labels?.team, 'storage');
  });

  it('the PrometheusRule has the promised alerts', () => {
    const rule = only(objects('monitoring API present'), 'PrometheusRule');
    const alerts = (rule.spec as { groups: { rules: { alert: string; labels: { severity: string }; annotations: { summary: string } }[] }[] }).groups.flatMap((g) => g.rules);
    const names = alerts.map((a) => a.alert);
    for (const a of ['RkvNodeDown', 'RkvQuorumFailuresRising', 'RkvHandoffsStalled', 'RkvPartitionsUnderReplicated', 'RkvDiskFillingUp']) assert.ok(names.includes(a), a);
    for (const a of alerts) {
      assert.match(a.labels.severity, /^(info|warning|critical)$/);
      assert.ok(a.annotations.summary, `${a.alert} has a summary`);
    }
  });

  it('the Grafana dashboard is well formed: unique ids, panels inside the 24-column grid and not overlapping, one data source variable', () => {
    type GPanel = { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid: string }; targets?: { datasource?: { uid: string } }[] };
    const d = JSON.parse(fs.readFileSync(path.join(CHART, 'dashboards', 'rkv.json'), 'utf8')) as { uid: string; title: string; panels: GPanel[]; templating: { list: { name: string; type: string }[] } };
    assert.ok(d.uid && d.title);
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
    const cells = new Set<string>();
    for (const p of d.panels) {
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title} fits the grid`);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      }
      if (p.type !== 'row') {
        assert.equal(p.datasource?.uid, '${datasource}', `${p.title} uses the data source variable`);
        assert.ok(p.targets?.length, `${p.title} has queries`);
      }
    }
    assert.deepEqual(d.templating.list.filter((v) => v.type === 'datasource').map((v) => v.name), ['datasource']);
  });

  it('the Grafana dashboard ConfigMap carries the sidecar label and the dashboard JSON', async () => {
    const cm = only(objects('defaults'), 'ConfigMap');
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    const json = (cm.data as Record<string, string>)['rkv.json']!;
    assert.deepEqual(JSON.parse(json), JSON.parse(fs.readFileSync(path.join(CHART, 'dashboards', 'rkv.json'), 'utf8')));
    assert.equal(find(objects('monitoring API present, monitoring off'), 'ConfigMap').length, 0);
  });
});
