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
// --test-force-exit: a test file whose tests are done exits even if a handle it leaked would keep it
// alive (a runaway retry loop once held CI until its deadline); the timeout bounds everything else.
const TIMEOUT_MIN = Number(process.env.RKV_TEST_TIMEOUT_MIN ?? 40);
const res = spawnSync(process.execPath, ['--test', '--test-force-exit', '--test-concurrency=1', '--enable-source-maps', ...files], { stdio: 'inherit', timeout: TIMEOUT_MIN * 60_000, killSignal: 'SIGKILL' });
if (res.error?.code === 'ETIMEDOUT') console.error(`run-tests: stopped after ${TIMEOUT_MIN} minutes (RKV_TEST_TIMEOUT_MIN); the summary above is incomplete`);
process.exit(res.status ?? 1);
