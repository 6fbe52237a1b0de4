/**
 * `rkv bench`: a basho_bench-style load generator (engine in ../bench/), and
 * `rkv bench compare A B` / `rkv bench charts DIR` over its result folders.
 * Exit codes: 0 no errors, 1 completed with errors, 2 bad usage or settings,
 * 3 aborted (no target reachable at the start, or --shutdown-on-error).
 */
import type { Command } from 'commander';
import { BenchConfigError, resolveConfig, type BenchConfig, type BenchFlags } from '../bench/config.js';
import { compareTable, loadSummary, summaryTable } from '../bench/compare.js';

const EXIT_HELP = `
Exit status: 0 no errors; 1 the run completed with errors (counted per kind in
summary.json); 2 bad usage or settings; 3 aborted: no target answered at the
start (the run ends at once), or --shutdown-on-error saw an error.

Example:
  rkv bench --targets 127.0.0.1:6379 --ops get:4,put:1 --keys pareto:100000 \\
    --workers 16 --duration 60s --out bench-results/run1
  rkv bench compare bench-results/run1 bench-results/run2`;

async function renderCharts(dir: string, ops: string[]): Promise<string[]> {
  // Loaded on demand: vega is the heaviest import of the program.
  const charts = await import('../bench/charts.js');
  return charts.renderCharts(dir, ops);
}

function describe(cfg: BenchConfig): string {
  const ops = cfg.ops.map((o) => `${o.op}:${o.weight}`).join(',');
  const size = cfg.valueSize.kind === 'fixed' ? `fixed:${cfg.valueSize.bytes}` : `random:${cfg.valueSize.min}-${cfg.valueSize.max}`;
  const rate = cfg.rate === 'max' ? 'max' : `${cfg.rate}/s`;
  return (
    `rkv bench: ${cfg.protocol} ${cfg.targets.join(',')}  ops ${ops}  keys ${cfg.keys.kind}:${cfg.keys.n}  values ${size}  ` +
    `workers ${cfg.workers}  rate ${rate}  duration ${cfg.durationMs / 1000}s  seed ${cfg.seed}  out ${cfg.out}\n`
  );
}

async function bench(flags: BenchFlags): Promise<void> {
  let cfg: BenchConfig;
  try {
    cfg = resolveConfig(flags);
  } catch (err) {
    if (!(err instanceof BenchConfigError)) throw err;
    process.stderr.write(`rkv bench: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(describe(cfg));
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\nrkv bench: interrupted, writing results (Ctrl-C again to quit now)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  // Loaded here so `rkv --help` does not pay for ioredis and undici.
  const { runBench } = await import('../bench/runner.js');
  const result = await runBench(cfg, { stderr: process.stderr, signal: abort.signal, charts: renderCharts });
  process.off('SIGINT', onSigint);
  // A run that never reached a target has no table worth printing, only the message.
  if (Object.values(result.summary.ops).some((o) => o.ops + o.errors > 0)) process.stdout.write(`${summaryTable(result.summary)}\n`);
  process.stderr.write(`rkv bench: ${result.message}\nrkv bench: results in ${cfg.out}\n`);
  process.exitCode = result.exitCode;
  // Sockets are closed; should a client library still hold a handle, do not hang on it.
  setTimeout(() => process.exit(), 2000).unref();
}

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .description('basho_bench-style load generator over RESP or HTTP; writes CSVs, summary and charts')
    .option('--config <file>', 'YAML file with any of these settings (flags override it)')
    .option('--targets <list>', 'host:port[,host:port...], spread over workers round-robin (default 127.0.0.1:6379, or :8098 for http)')
    .option('--protocol <resp|http>', 'resp (GET/SET/DEL) or http (/buckets/{bucket}/keys/{key}) (default resp)')
    .option('--ops <mix>', 'weighted operations: get, put, delete, get_own_puts, update, e.g. get:4,put:1 (default get:4,put:1)')
    .option('--keys <gen>', 'uniform:N, pareto:N (80% of hits on 20% of keys), sequential:N, partitioned:N (default uniform:10000)')
    .option('--value-size <gen>', 'fixed:BYTES or random:MIN-MAX (default fixed:100)')
    .option('--workers <n>', 'concurrent workers, one connection each (default 8)')
    .option('--duration <time>', 'run time: 500ms, 60s, 5m, 1h (default 60s)')
    .option('--rate <max|N/s>', 'max (closed loop) or a total fixed rate, latency from the intended send time (default max)')
    .option('--out <dir>', 'result folder (default bench-results/<timestamp>)')
    .option('--seed <n>', 'PRNG seed; the same seed repeats the same operations (default random, printed)')
    .option('--report-interval <time>', 'CSV row and progress line interval (default 1s)')
    .option('--shutdown-on-error', 'stop at the first error (exit 3)')
    .option('--bucket <name>', 'HTTP bucket; RESP keys are always in the bucket "default" (default default)')
    .option('--timeout <time>', 'per-request timeout (default 5s)')
    .option('--charts', 'render SVG/PNG charts after the run (the default)')
    .option('--no-charts', 'skip the charts')
    .addHelpText('after', EXIT_HELP)
    .action(async (flags: BenchFlags) => bench(flags));

  cmd
    .command('compare <runA> <runB>')
    .description("print two runs' summaries side by side (ops/s, p50, p99, p99.9, errors per op) with B/A")
    .action((a: string, b: string) => {
      const [sa, sb] = [loadSummary(a), loadSummary(b)];
      process.stdout.write(`A: ${a} (${sa.started_at}, ${sa.config.protocol}, ${sa.config.workers} workers)\n`);
      process.stdout.write(`B: ${b} (${sb.started_at}, ${sb.config.protocol}, ${sb.config.workers} workers)\n\n`);
      process.stdout.write(`${compareTable(sa, sb)}\n`);
    });

  cmd
    .command('charts <dir>')
    .description("re-render a run's charts from its CSVs")
    .action(async (dir: string) => {
      const files = await renderCharts(dir, Object.keys(loadSummary(dir).ops));
      process.stdout.write(`${files.map((f) => `${dir}/${f}`).join('\n')}\n`);
    });
}
