#!/usr/bin/env node
// Runs the compiled test files with node's built-in runner so CI can read its summary.
// `node scripts/run-tests.mjs [tier...]` where tier is a folder under test/ (unit, cluster, containers).
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = join(process.cwd(), 'dist', 'test');
const tiers = process.argv.slice(2);
const wanted = tiers.length ? tiers : readdirSync(root).filter((d) => statSync(join(root, d)).isDirectory());

function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return collect(p);
    return name.endsWith('.test.js') ? [p] : [];
  });
}

const files = wanted.sort().flatMap((t) => collect(join(root, t)));
if (files.length === 0) {
  console.error(`no test files found for ${wanted.join(', ')}`);
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--enable-source-maps', ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
