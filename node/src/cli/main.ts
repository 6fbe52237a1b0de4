/**
 * The `rkv` program. Each subcommand lives in its own module exporting
 * `register(program)`; add new ones (bench, dev-cluster) to SUBCOMMANDS.
 */
import './process_env.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { register as registerAdmin } from './admin.js';
import { register as registerBench } from './bench.js';
import { register as registerDevCluster } from './dev_cluster.js';
import { register as registerStart } from './start.js';

const SUBCOMMANDS: ((program: Command) => void)[] = [registerStart, registerAdmin, registerBench, registerDevCluster];

/** Walks up because the file runs both from node/src/cli and dist/node/src/cli. */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rkv' && pkg.version) return pkg.version;
    } catch {
      // no package.json here; keep walking up
    }
  }
  return 'unknown';
}

function buildProgram(): Command {
  const program = new Command('rkv')
    .description('a Dynamo/Riak-style distributed key-value store')
    .version(packageVersion(), '-V, --version')
    // Set before registering: subcommands copy these settings when created.
    .exitOverride()
    .showSuggestionAfterError();
  for (const register of SUBCOMMANDS) register(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed help, version or the usage error; usage errors exit 2.
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    process.stderr.write(`rkv: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

await main();
