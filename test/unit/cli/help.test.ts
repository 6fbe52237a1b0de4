import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../../node/src/cli/main.js', import.meta.url));

/** RKV_* from the developer's shell must not leak into the CLI under test. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RKV_')));
}

function rkv(...args: string[]) {
  const res = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const START_FLAGS = [
  '--name', '--bind', '--advertise', '--resp-port', '--http-port', '--cluster-port', '--data-dir', '--backend',
  '--ring-size', '--n-val', '--r ', '--w ', '--pr', '--pw', '--dw', '--cluster-secret', '--log-level',
  '--config', '--max-value-size', '--request-timeout', '--sync-writes', '--cluster-name', '--requirepass',
];

const ADMIN_COMMANDS = [
  'cluster join <node>', 'cluster leave [node]', 'cluster force-remove <node>', 'cluster plan', 'cluster commit',
  'cluster clear', 'member-status', 'ring-status', 'transfers', 'transfer-limit [n]', 'ring resize <size>',
  'ring resize-abort', 'repair <partition>', 'keys <bucket>', 'count <bucket>',
];

describe('rkv CLI', () => {
  it('start --help lists every SPEC 2 flag with its env var and default', () => {
    const { code, stdout } = rkv('start', '--help');
    assert.equal(code, 0);
    for (const flag of START_FLAGS) assert.ok(stdout.includes(flag), `missing ${flag}`);
    assert.match(stdout, /RKV_RING_SIZE, default 64/);
    assert.match(stdout, /RKV_RESP_PORT, default 6379/);
  });

  it('admin --help lists every SPEC 3 command', () => {
    const { code, stdout } = rkv('admin', '--help');
    assert.equal(code, 0);
    for (const cmd of ADMIN_COMMANDS) assert.ok(stdout.includes(cmd), `missing ${cmd}`);
    assert.ok(stdout.includes('--json') && stdout.includes('--url'));
  });

  it('--version prints the package version', () => {
    const { code, stdout } = rkv('--version');
    assert.equal(code, 0);
    assert.match(stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  it('bad configuration: one stderr line, non-zero exit', () => {
    const { code, stderr } = rkv('start', '--ring-size', '100');
    assert.notEqual(code, 0);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /^rkv: .*power of two/);
  });

  it('unknown flag or command exits 2', () => {
    assert.equal(rkv('start', '--no-such-flag').code, 2);
    assert.equal(rkv('frobnicate').code, 2);
  });

  it('admin against a dead port reports it cannot reach the node', () => {
    const { code, stderr } = rkv('admin', '--url', 'http://127.0.0.1:1', 'member-status');
    assert.equal(code, 1);
    assert.equal(stderr.trim(), 'rkv admin: cannot reach node at http://127.0.0.1:1 (connection refused)');
  });
});
