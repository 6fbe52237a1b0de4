#!/usr/bin/env node
// skaffold's custom builder for the rkv images (skaffold.yaml):
//   node scripts/skaffold-build.mjs <Dockerfile>
// Both Dockerfiles assemble the image from the compiled dist/ and node_modules/
// of the checkout, so this compiles first (`npm run build`; run `npm ci` once
// before), then builds $IMAGE from the repository root, and pushes it when
// skaffold asks ($PUSH_IMAGE=true; for a kind cluster skaffold loads it instead).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dockerfile = process.argv[2];
const image = process.env.IMAGE;
if (!dockerfile || !image) {
  console.error('usage: IMAGE=<name:tag> node scripts/skaffold-build.mjs <Dockerfile>  (skaffold sets IMAGE and PUSH_IMAGE)');
  process.exit(2);
}
if (!existsSync(join(root, 'node_modules'))) {
  console.error('node_modules/ is missing: run "npm ci" first (the images copy it from the checkout)');
  process.exit(1);
}

function step(cmd, args) {
  console.error(`+ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

step('npm', ['run', 'build', '--silent']);
step('docker', ['build', '-f', dockerfile, '-t', image, ...(process.env.BASE_IMAGE ? ['--build-arg', `BASE_IMAGE=${process.env.BASE_IMAGE}`] : []), process.env.BUILD_CONTEXT ?? '.']);
if (process.env.PUSH_IMAGE === 'true') step('docker', ['push', image]);
