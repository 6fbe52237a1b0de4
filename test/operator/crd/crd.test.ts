import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { rkvClusterCRD } from '../../../operator/src/crd/crd.js';
import { specSchema, withDefaults } from '../../../operator/src/crd/spec.js';
import { crdYaml, rbacYaml } from '../../../operator/src/crd/write.js';
import { validateBuiltin } from '../apiserver/admission.js';
import { evalRule } from '../apiserver/cel.js';
import type { Obj } from '../apiserver/store.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The CRD: a valid apiextensions.k8s.io/v1 object, consistent with the TypeScript types, and generated files in sync. */
describe('RkvCluster CRD', () => {
  const crd = rkvClusterCRD();

  it('passes the upstream CustomResourceDefinition schema', () => {
    validateBuiltin(crd as unknown as Obj);
  });

  it('has the printer columns, status subresource and short name', () => {
    const v = crd.spec.versions[0]!;
    assert.deepEqual(v.additionalPrinterColumns?.map((c) => c.name), ['Replicas', 'Ready', 'Ring', 'Phase', 'Age']);
    assert.deepEqual(v.subresources?.status, {});
    assert.deepEqual(crd.spec.names.shortNames, ['rkv']);
  });

  it('every CEL rule compiles and evaluates on a defaulted spec', () => {
    const spec = withDefaults({});
    const rules: string[] = [];
    const walk = (s: typeof specSchema) => {
      for (const r of s['x-kubernetes-validations'] ?? []) rules.push(r.rule);
      for (const p of Object.values(s.properties ?? {})) walk(p);
      if (s.items) walk(s.items);
    };
    walk(specSchema);
    assert.ok(rules.length >= 6, rules.join(' | '));
    assert.equal(evalRule(specSchema['x-kubernetes-validations']![0]!.rule, { self: { ...spec, replicas: 3n, nVal: 3n } }), true);
  });

  it('defaults fill a minimal spec completely', () => {
    const s = withDefaults({ replicas: 5 });
    assert.equal(s.replicas, 5);
    assert.equal(s.ring.size, 64);
    assert.equal(s.ring.autoResize, false);
    assert.equal(s.storage.size, '10Gi');
    assert.equal(s.monitoring.serviceMonitor, false);
    assert.equal(s.transferLimit, 2);
  });

  it('the generated YAML parses back to the same CRD and RBAC', () => {
    assert.deepEqual(parse(crdYaml()), JSON.parse(JSON.stringify(crd)));
    const docs = rbacYaml().split(/^---$/m).map((d) => parse(d) as { kind: string });
    assert.deepEqual(docs.map((d) => d.kind), ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
  });

  it('the checked-in manifests match the source (run `npm run operator:manifests`)', () => {
    for (const [file, text] of [[path.join(ROOT, 'charts/rkv/crds/rkvcluster.yaml'), crdYaml()], [path.join(ROOT, 'operator/manifests/rkvcluster.yaml'), crdYaml()], [path.join(ROOT, 'operator/manifests/operator-rbac.yaml'), rbacYaml()]] as const) {
      if (fs.existsSync(file)) assert.equal(fs.readFileSync(file, 'utf8'), text, `${file} is stale`);
    }
  });
});
