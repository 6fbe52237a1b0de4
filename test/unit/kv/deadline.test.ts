import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Deadline } from '../../../node/src/kv/deadline.js';

class Probe extends Deadline {
  fired = -1;
  constructor(
    readonly name: string,
    private readonly log: string[],
  ) {
    super();
  }
  arm(ms: number): void {
    this.armDeadline(ms);
  }
  disarm(): void {
    this.disarmDeadline();
  }
  protected onDeadline(): void {
    this.fired = performance.now();
    this.log.push(this.name);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Deadline', () => {
  it('fires armed deadlines once, in deadline order, never before their time', async () => {
    const log: string[] = [];
    const t0 = performance.now();
    const a = new Probe('a', log);
    const b = new Probe('b', log);
    const c = new Probe('c', log);
    const d = new Probe('d', log);
    a.arm(40);
    b.arm(10);
    c.arm(40);
    d.arm(25);
    c.disarm();
    await sleep(80);
    assert.deepEqual(log, ['b', 'd', 'a']);
    assert.ok(b.fired - t0 >= 10 && d.fired - t0 >= 25 && a.fired - t0 >= 40);
    assert.equal(c.fired, -1);
  });

  it('a deadline disarmed or re-armed does not fire at its old time', async () => {
    const log: string[] = [];
    const a = new Probe('a', log);
    a.arm(10);
    a.disarm();
    a.arm(10);
    a.disarm();
    const b = new Probe('b', log);
    b.arm(15);
    b.arm(60);
    await sleep(35);
    assert.deepEqual(log, []);
    await sleep(45);
    assert.deepEqual(log, ['b']);
  });

  it('does not keep the process alive once nothing is armed', async () => {
    const { spawnSync } = await import('node:child_process');
    const url = new URL('../../../node/src/kv/deadline.js', import.meta.url).href;
    const script = `import { Deadline } from '${url}';
      class P extends Deadline { onDeadline() {} go() { this.armDeadline(60000); this.disarmDeadline(); } }
      new P().go();`;
    const t0 = Date.now();
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    assert.ok(Date.now() - t0 < 10_000);
  });
});
