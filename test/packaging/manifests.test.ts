import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ROOT, chartCrd, k8sTools, readObjects, run, runAsync, tmpDir } from './helpers.js';
import { Validator, type KubeObject } from './validate.js';

/**
 * manifests/ (plain YAML for `kubectl apply -f manifests/`) is generated from
 * the chart by scripts/gen-manifests.mjs: it must be up to date, valid, and
 * something kubectl accepts.
 */
const MANIFESTS = path.join(ROOT, 'manifests');

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? yamlFiles(p) : e.name.endsWith('.yaml') ? [p] : [];
  }).sort();
}

describe('manifests/', () => {
  it('is up to date with the chart and the operator (regenerated into a temporary directory)', () => {
    const out = tmpDir('manifests');
    try {
      const r = run(process.execPath, [path.join(ROOT, 'scripts', 'gen-manifests.mjs'), '--out', out], { timeoutMs: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      const generated = yamlFiles(path.join(out, 'manifests')).map((p) => path.relative(out, p));
      const checkedIn = yamlFiles(MANIFESTS).map((p) => path.relative(ROOT, p));
      const stale = [...new Set([...generated, ...checkedIn])].filter((rel) => {
        const a = path.join(out, rel);
        const b = path.join(ROOT, rel);
        return !fs.existsSync(a) || !fs.existsSync(b) || fs.readFileSync(a, 'utf8') !== fs.readFileSync(b, 'utf8');
      });
      // the chart files generated from the operator's source (CRD, RBAC rules, values schema)
      for (const rel of ['charts/rkv/crds/rkvcluster.yaml', 'charts/rkv/templates/_rbac_rules.tpl', 'charts/rkv/values.schema.json']) {
        if (fs.readFileSync(path.join(out, rel), 'utf8') !== fs.readFileSync(path.join(ROOT, rel), 'utf8')) stale.push(rel);
      }
      assert.deepEqual(stale, [], 'out of date: run `npm run gen:manifests` and commit the result');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('holds the namespace, CRD, RBAC and operator, an example RkvCluster and the monitoring objects, all valid', async () => {
    const validator = new Validator();
    validator.addCrd(chartCrd());
    const all = yamlFiles(MANIFESTS).flatMap((f) => readObjects(f));
    const kinds = new Set(all.map((o) => o.kind));
    for (const k of ['Namespace', 'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'PodDisruptionBudget', 'ConfigMap', 'ServiceMonitor', 'PrometheusRule', 'RkvCluster']) {
      assert.ok(kinds.has(k), `manifests/ has a ${k}`);
    }
    assert.deepEqual(await validator.problemsOfAll(all), []);
    for (const o of all) {
      assert.equal(o.metadata.labels?.['helm.sh/chart'], undefined, `${o.kind}/${o.metadata.name}: no Helm bookkeeping in plain manifests`);
      assert.notEqual(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm');
    }
    const example = readObjects(path.join(MANIFESTS, 'examples', 'rkvcluster.yaml'));
    assert.equal(example.length, 1);
    assert.equal(example[0]!.metadata.namespace, undefined, 'the example lands in the current namespace');
  });

  describe('kubectl apply --dry-run=client', () => {
    // kubectl maps every kind to a resource through the API server's discovery
    // even for a client-side dry run, so it cannot run without a server: a stub
    // serves discovery for the built-in kinds and the CRD's, and answers 404 to
    // every object lookup (nothing exists yet, as on a fresh cluster).
    let server: http.Server;
    let url = '';
    const requests: string[] = [];

    before(async () => {
      const crd = chartCrd().spec as { group: string; scope: string; names: { plural: string; singular: string; kind: string }; versions: { name: string }[] };
      const r = (name: string, kind: string, namespaced: boolean) => ({ name, singularName: kind.toLowerCase(), namespaced, kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] });
      const groups: Record<string, ReturnType<typeof r>[]> = {
        v1: [r('namespaces', 'Namespace', false), r('serviceaccounts', 'ServiceAccount', true), r('services', 'Service', true), r('configmaps', 'ConfigMap', true), r('secrets', 'Secret', true)],
        'apps/v1': [r('deployments', 'Deployment', true), r('statefulsets', 'StatefulSet', true)],
        'policy/v1': [r('poddisruptionbudgets', 'PodDisruptionBudget', true)],
        'rbac.authorization.k8s.io/v1': [r('clusterroles', 'ClusterRole', false), r('clusterrolebindings', 'ClusterRoleBinding', false), r('roles', 'Role', true), r('rolebindings', 'RoleBinding', true)],
        'apiextensions.k8s.io/v1': [r('customresourcedefinitions', 'CustomResourceDefinition', false)],
        'monitoring.coreos.com/v1': [r('servicemonitors', 'ServiceMonitor', true), r('prometheusrules', 'PrometheusRule', true)],
      };
      for (const v of crd.versions) groups[`${crd.group}/${v.name}`] = [r(crd.names.plural, crd.names.kind, crd.scope === 'Namespaced')];
      const apiGroups = Object.keys(groups).filter((gv) => gv.includes('/')).map((gv) => {
        const [name, version] = gv.split('/') as [string, string];
        return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
      });
      server = http.createServer((req, res) => {
        const p = (req.url ?? '').split('?')[0]!;
        requests.push(`${req.method} ${p}`);
        const json = (code: number, body: unknown) => {
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (p === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
        if (p === '/apis') return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups });
        const gv = p === '/api/v1' ? 'v1' : p.startsWith('/apis/') ? p.slice('/apis/'.length) : undefined;
        if (gv && groups[gv]) return json(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources: groups[gv] });
        return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', message: `${p} not found`, code: 404 });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('creates every object of manifests/, manifests/monitoring/ and the example, reading only', async () => {
      const { kubectl } = await k8sTools();
      const expected: KubeObject[] = yamlFiles(MANIFESTS).flatMap((f) => readObjects(f));
      const home = tmpDir('kubectl-home');
      try {
        const res = await runAsync(kubectl, [
          'apply', '--dry-run=client', '--validate=false', '--server', url,
          '-f', MANIFESTS, '-f', path.join(MANIFESTS, 'monitoring'), '-f', path.join(MANIFESTS, 'examples'),
        ], { timeoutMs: 60_000, cwd: home, env: { HOME: home, KUBECONFIG: path.join(home, 'no-kubeconfig') } });
        assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
        const lines = res.stdout.trim().split('\n');
        assert.equal(lines.length, expected.length, res.stdout);
        for (const line of lines) assert.match(line, /^\S+\/\S+ created \(dry run\)$/);
        for (const o of expected) {
          const name = `${o.metadata.name} created (dry run)`;
          assert.ok(lines.some((l) => l.endsWith(`/${name}`) && l.toLowerCase().startsWith(o.kind.toLowerCase())), `${o.kind}/${o.metadata.name} in:\n${res.stdout}`);
        }
        // a client dry run reads (discovery, the objects), never writes
        assert.deepEqual(requests.filter((q) => !q.startsWith('GET ')), []);
      } finally {
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  });
});
