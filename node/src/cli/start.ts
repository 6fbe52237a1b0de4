/**
 * `rkv start`: one storage node. Exit codes follow SPEC section 2: 0 after a
 * clean shutdown on SIGTERM/SIGINT, 1 with a single `rkv: <message>` line on
 * stderr for bad configuration or a failed startup.
 */
import { Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import { loadConfigFromProcess } from '../config/load.js';
import type { NodeConfig } from '../config/node_config.js';
import { START_OPTION_LIST, type StartOption } from '../config/options.js';

/** The part of node.ts's RkvNode this command uses. */
interface RunningNode {
  stop(): Promise<void>;
  readonly addresses: { resp: string; http: string; cluster: string };
}

function helpText(o: StartOption): string {
  const def = o.defaultText ?? (o.default === undefined ? undefined : String(o.default));
  return `${o.description} (env ${o.env}${def === undefined ? '' : `, default ${def}`})`;
}

function commanderOptions(o: StartOption): Option[] {
  // No commander defaults or env(): load.ts must see only what was typed to apply flag > env > file > default.
  if (o.arg) return [new Option(`${o.flag} ${o.arg}`, helpText(o))];
  return [new Option(o.flag, helpText(o)), new Option(`--no-${o.flag.slice(2)}`, `turn ${o.flag} off`)];
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}

function fail(err: unknown): never {
  process.stderr.write(`rkv: ${firstLine(err)}\n`);
  process.exit(1);
}

async function stopAndExit(node: RunningNode, logger: Logger): Promise<never> {
  try {
    await node.stop();
    logger.info('rkv node stopped');
    process.exit(0);
  } catch (err) {
    logger.error({ err }, 'shutdown failed');
    fail(new Error(`shutdown failed: ${firstLine(err)}`));
  }
}

export async function start(flags: Record<string, unknown>): Promise<void> {
  let cfg: NodeConfig;
  try {
    cfg = loadConfigFromProcess(flags);
  } catch (err) {
    fail(err);
  }
  const logger = pino({ level: cfg.logLevel, base: { node: cfg.name } });
  // A stray promise rejection is a bug to log loudly, not a reason to drop every client and replica:
  // the node keeps serving (Node's default would exit).
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? { message: reason.message, stack: reason.stack } : String(reason) }, 'unhandled promise rejection');
  });

  let node: RunningNode | undefined;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, 'second signal during shutdown, exiting now');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    // A signal during startup is acted on once startNode settles (below).
    if (node) void stopAndExit(node, logger);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    // Loaded lazily so `rkv --help` and `rkv admin` never pay for the storage stack.
    const { startNode } = await import('../node.js');
    node = await startNode(cfg, { logger });
  } catch (err) {
    logger.error({ err }, 'startup failed');
    fail(err);
  }
  logger.info(
    { ...node.addresses, backend: cfg.backend, ringSize: cfg.ringSize, dataDir: cfg.dataDir },
    `rkv node started: resp ${node.addresses.resp}, http ${node.addresses.http}, cluster ${node.addresses.cluster}`,
  );
  if (signalled) await stopAndExit(node, logger);
}

export function register(program: Command): void {
  const cmd = program
    .command('start')
    .description('run a storage node (each option: flag > env > config file > default)');
  for (const o of START_OPTION_LIST) for (const opt of commanderOptions(o)) cmd.addOption(opt);
  cmd.action(async (opts: Record<string, unknown>) => {
    await start(opts);
  });
}
