/**
 * The container tier's common frame: is there a Docker engine (and what to
 * do when there is none), the image, and one fault scenario from cluster
 * start to the checker's table.
 *
 * Without a reachable Docker daemon every container test is skipped with the
 * reason and a notice on stderr, unless RKV_REQUIRE_DOCKER=1 (set by .ci/run):
 * then they fail, so CI cannot pass without having run them.
 */
import './env.js';
import assert from 'node:assert/strict';
import { RkvCluster, sleep, type RkvNode } from './cluster.js';
import { Workload, formatResult, type CheckResult, type Target, type WorkloadOptions } from './checker.js';
import { dockerStatus, nodeImage } from './images.js';

export interface Tier {
  /** the reason to pass to it({ skip }), or false to run */
  skip: string | false;
  /** for before(): builds (or finds) the image when there is a Docker engine */
  prepare(): Promise<void>;
}

/**
 * Decides, once per test file, whether the container tests run: skipped with
 * the reason when no Docker engine answers, unless RKV_REQUIRE_DOCKER=1, when
 * they run and fail on requireDocker().
 */
export async function containerTier(): Promise<Tier> {
  const s = await dockerStatus();
  const required = process.env.RKV_REQUIRE_DOCKER === '1' || process.env.RKV_REQUIRE_DOCKER === 'true';
  const prepare = async () => {
    if (s.ok) await testImage();
  };
  if (s.ok || required) return { skip: false, prepare };
  process.stderr.write(`\ncontainers: SKIPPING the container tier: ${s.reason}.\n` + 'containers: start a Docker engine to run it; set RKV_REQUIRE_DOCKER=1 to make a missing engine a failure (CI does).\n\n');
  return { skip: `container tier skipped: ${s.reason}`, prepare };
}

/** First thing in every container test: fails with the reason when there is no Docker engine. */
export async function requireDocker(): Promise<void> {
  const s = await dockerStatus();
  if (!s.ok) throw new Error(`container tier${process.env.RKV_REQUIRE_DOCKER ? ' required (RKV_REQUIRE_DOCKER=1)' : ''}, but ${s.reason}`);
}

let image: Promise<string> | undefined;
/** The node image, built at most once per process (and reused across runs by content hash). */
export function testImage(): Promise<string> {
  image ??= nodeImage();
  return image;
}

export function targetOf(n: RkvNode): Target {
  return { name: n.alias, resp: n.ports.resp, http: n.ports.http };
}

export interface ScenarioContext {
  cluster: RkvCluster;
  workload: Workload;
  /** nodes clients send requests to; the nemesis may change it (join/leave) */
  targets: RkvNode[];
  /** members expected after healing; the nemesis may change it */
  members: RkvNode[];
  /** time since the load started, ms */
  elapsed(): number;
  /** sleeps until `ms` after the load started */
  until(ms: number): Promise<void>;
  /** a line on stderr with the time since load start */
  say(msg: string): void;
}

export interface ScenarioOptions {
  name: string;
  label: string;
  size: number;
  /** the load runs at least this long, ms (the nemesis may take longer) */
  loadMs: number;
  nemesis: (ctx: ScenarioContext) => Promise<void>;
  workload?: Partial<WorkloadOptions>;
  /** extra `rkv start` flags */
  args?: string[];
  settleTimeoutMs?: number;
}

/**
 * Starts a cluster of `size` nodes, joins them to n1, waits until converged,
 * runs the workload while the nemesis acts, stops the load, waits until the
 * cluster (ctx.members) has settled, checks, prints the table, removes
 * everything. Fails when the checker finds an anomaly or the cluster never
 * settles (the table is printed either way).
 */
export async function runScenario(o: ScenarioOptions): Promise<CheckResult> {
  await requireDocker();
  const img = await testImage();
  const t0 = Date.now();
  const cluster = await RkvCluster.start({ image: img, size: o.size, label: o.label, args: ['--log-level', 'info', ...(o.args ?? [])] });
  let loadStart = 0;
  const say = (msg: string) => process.stderr.write(`containers: [${o.label} +${((Date.now() - (loadStart || t0)) / 1000).toFixed(1)}s] ${msg}\n`);
  try {
    const [seed, ...rest] = cluster.nodes;
    await cluster.join(seed!, rest);
    await cluster.waitConverged(cluster.nodes, 60_000);
    say(`${o.size} nodes up and converged in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const ctx: ScenarioContext = {
      cluster,
      workload: undefined as unknown as Workload,
      targets: [...cluster.nodes],
      members: [...cluster.nodes],
      elapsed: () => Date.now() - loadStart,
      until: async (ms) => {
        const left = ms - (Date.now() - loadStart);
        if (left > 0) await sleep(left);
      },
      say,
    };
    const workload = new Workload({ tag: `${o.label}-${Date.now().toString(36)}`, targets: () => ctx.targets.map(targetOf), ...o.workload });
    ctx.workload = workload;
    await workload.prepare();
    loadStart = Date.now();
    workload.start();
    let nemesisError: unknown;
    try {
      await o.nemesis(ctx);
      await ctx.until(o.loadMs);
    } catch (e) {
      nemesisError = e;
    } finally {
      await workload.stop();
    }
    const c = workload.counts;
    say(`load stopped: ${c.once} write-once (${c.acked} acked), ${c.sets} set adds`);
    if (nemesisError) throw nemesisError;

    let settleError: Error | undefined;
    await cluster.waitConverged(ctx.members, o.settleTimeoutMs ?? 90_000).catch((e: Error) => (settleError = e));
    say(settleError ? `did NOT settle: ${settleError.message.slice(0, 300)}` : 'settled: members valid, no transfers, no fallback data left');

    const result = await workload.check(o.name, ctx.members.map(targetOf));
    process.stdout.write(`\n${formatResult(result)}\n\n`);
    if (!result.ok) {
      process.stderr.write(await cluster.logs(30));
      assert.fail(`${o.name}: acknowledged writes lost or corrupted\n${formatResult(result)}`);
    }
    if (settleError) assert.fail(`${o.name}: cluster did not settle after healing: ${(settleError as Error).message}`);
    assert.ok(result.kinds[0]!.acked >= 50, `${o.name}: too little acknowledged load to mean anything (${result.kinds[0]!.acked} writes)`);
    assert.ok(result.kinds[2]!.acked >= 10, `${o.name}: too few acknowledged set adds (${result.kinds[2]!.acked})`);
    return result;
  } catch (e) {
    if (!(e instanceof assert.AssertionError)) process.stderr.write(`${await cluster.logs(40)}\n`);
    throw e;
  } finally {
    await cluster.destroy();
    say(`scenario took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}
