import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CHART, ROOT, chartCrd, helm, only, render, valuesFile } from './helpers.js';
import { Validator, type KubeObject } from './validate.js';

/**
 * skaffold.yaml, checked without skaffold: both images are built from their
 * Dockerfiles, and the chart release it deploys (with the values skaffold
 * sets, per profile) renders the images it built into valid objects.
 */
interface Artifact {
  image: string;
  custom?: { buildCommand: string; dependencies?: { paths?: string[] } };
}
interface Release {
  name: string;
  chartPath: string;
  namespace?: string;
  setValueTemplates?: Record<string, string>;
  setValues?: Record<string, unknown>;
  valuesFiles?: string[];
}
interface Skaffold {
  apiVersion: string;
  kind: string;
  build: { artifacts: Artifact[] };
  deploy: { helm: { releases: Release[] } };
  profiles?: { name: string; activation?: { kubeContext?: string }[]; patches?: { op: string; path: string; value: unknown }[] }[];
}

const skaffold = parse(fs.readFileSync(path.join(ROOT, 'skaffold.yaml'), 'utf8')) as Skaffold;

/** Nested values from skaffold's dotted keys (`cluster.image: x` -> {cluster: {image: x}}). */
function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(flat)) {
    const parts = key.split('.');
    let at = out;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[parts.at(-1)!] = v;
  }
  return out;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? merge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** skaffold's template variable for an artifact (IMAGE_FULLY_QUALIFIED_<image with / and - as _>). */
const fq = (image: string) => `IMAGE_FULLY_QUALIFIED_${image.replace(/[/-]/g, '_')}`;

describe('skaffold.yaml', () => {
  it('builds the node and the operator image from their Dockerfiles', () => {
    assert.match(skaffold.apiVersion, /^skaffold\/v4beta\d+$/);
    assert.equal(skaffold.kind, 'Config');
    const images = new Map(skaffold.build.artifacts.map((a) => [a.image, a]));
    for (const [image, dockerfile] of [['rkv', 'node/Dockerfile'], ['rkv-operator', 'operator/Dockerfile']] as const) {
      const a = images.get(image);
      assert.ok(a?.custom, `artifact ${image}`);
      const [cmd, script, file] = a.custom.buildCommand.split(/\s+/);
      assert.equal(cmd, 'node');
      assert.ok(fs.existsSync(path.join(ROOT, script!)), script);
      assert.equal(file, dockerfile);
      for (const p of a.custom.dependencies?.paths ?? []) assert.ok(fs.existsSync(path.join(ROOT, p)), `${image} depends on ${p}, which exists`);
    }
  });

  it('deploys charts/rkv with the images it built, in every profile, to valid objects', async () => {
    const validator = new Validator();
    validator.addCrd(chartCrd());
    const release = skaffold.deploy.helm.releases[0]!;
    assert.equal(path.resolve(ROOT, release.chartPath), CHART);
    const kind = skaffold.profiles?.find((p) => p.name === 'kind');
    assert.ok(kind, 'a kind profile');
    assert.ok(kind.activation?.some((a) => a.kubeContext && new RegExp(`^${a.kubeContext}$`).test('kind-rkv')), 'activated by kind-* contexts');
    const kindFiles = kind.patches?.find((p) => p.path === '/deploy/helm/releases/0/valuesFiles')?.value as string[] | undefined;
    assert.ok(kindFiles?.length, 'the kind profile adds a values file');

    for (const files of [release.valuesFiles ?? [], [...(release.valuesFiles ?? []), ...kindFiles]]) {
      // what skaffold fills the templates with, e.g. rkv-operator:3f2a...
      const built: Record<string, string> = Object.fromEntries(skaffold.build.artifacts.map((a) => [fq(a.image), `${a.image}:skaffold-abc123`]));
      const templated = Object.fromEntries(Object.entries(release.setValueTemplates ?? {}).map(([k, t]) => {
        const v = t.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, name: string) => {
          assert.ok(built[name], `${k}: {{.${name}}} names no artifact`);
          return built[name];
        });
        return [k, v];
      }));
      let values: Record<string, unknown> = {};
      for (const f of files) values = merge(values, parse(fs.readFileSync(path.join(ROOT, f), 'utf8')) as Record<string, unknown>);
      values = merge(merge(values, nest(release.setValues ?? {})), nest(templated));
      const objs: KubeObject[] = await render({ values, release: release.name });
      assert.deepEqual(await validator.problemsOfAll(objs), []);
      const deploy = only(objs, 'Deployment');
      const image = (deploy.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image;
      assert.equal(image, 'rkv-operator:skaffold-abc123');
      const cluster = only(objs, 'RkvCluster');
      assert.equal((cluster.spec as { image: string }).image, 'rkv:skaffold-abc123');
      // what `helm lint` says about the same values
      const lint = await helm(['lint', '--strict', CHART, '-f', valuesFile(values)]);
      assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    }
  });
});
