import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, rename, access, constants, open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The data dir's identity and the names of this run's DVV actors.
 *
 * A dot (actor, counter) must never be issued twice for two different writes:
 * a replica that saw the first would take the second as already seen, and two
 * replicas each holding one of them, each covering the other's, merge to
 * nothing (a last-write-wins register reads back as absent). A vnode picks
 * the next counter of a key from what it stores for the key, so the actor has
 * to change whenever that knowledge may be lost:
 * - after a crash: a write may have reached other replicas and not the local
 *   disk. The epoch (the actors' common prefix) is minted anew at every start
 *   that does not follow a clean shutdown, and at every start of a backend
 *   that keeps nothing (memory);
 * - after a vnode drops its data (a finished handoff): the vnode's generation
 *   goes up (Vnode.drop), and the generations are kept here across a clean
 *   shutdown so a restart does not go back to one already used;
 * - after a key is reaped: a new dot is above every counter the vnode issued
 *   before (for any key), kept here across a clean shutdown too.
 * Riak does the same with vnode ids cleared on delete and counter leases.
 */
export interface NodeIdentity {
  /** minted when the data dir is created */
  incarnation: string;
  /** the prefix of this run's actors */
  epoch: string;
  /** actor generation of every vnode that dropped its data in this epoch, by vnodeName */
  generations: Record<string, number>;
  /** the last dot counter each vnode issued in this epoch, by vnodeName (every new dot is above it) */
  counters: Record<string, number>;
}

interface IdentityFile {
  incarnation: string;
  epoch?: string;
  generations?: Record<string, number>;
  counters?: Record<string, number>;
  /** written true by a clean shutdown, false at start */
  clean?: boolean;
}

export function vnodeName(ringLog2: number, partition: number): string {
  return `${ringLog2}.${partition}`;
}

export async function prepareDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create data dir ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    await access(dir, constants.W_OK);
    const probe = join(dir, '.write-test');
    await writeFile(probe, '');
  } catch (e) {
    throw new Error(`data dir ${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

const defaultMint = () => randomBytes(4).toString('hex');

/**
 * Reads (or creates) the identity and marks the run as started: until
 * markCleanShutdown, the next start takes a new epoch. `keepsData` is false
 * for a backend that forgets everything at exit.
 */
export async function loadIdentity(dir: string, opts: { keepsData?: boolean; mint?: () => string } = {}): Promise<NodeIdentity> {
  const mint = opts.mint ?? defaultMint;
  const file = join(dir, 'node.json');
  let stored: IdentityFile | undefined;
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as IdentityFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`node identity file ${file} is unreadable`);
  }
  if (stored !== undefined && typeof stored.incarnation !== 'string') throw new Error(`node identity file ${file} has no incarnation`);
  const resume = stored?.clean === true && (opts.keepsData ?? true) && typeof stored.epoch === 'string';
  const id: NodeIdentity = {
    incarnation: stored?.incarnation ?? mint(),
    epoch: resume ? stored!.epoch! : mint(),
    generations: resume ? { ...stored!.generations } : {},
    counters: resume ? { ...stored!.counters } : {},
  };
  await save(dir, id, false);
  return id;
}

/** After the backend closed cleanly: the next start may keep this epoch, with the generations reached. */
export function markCleanShutdown(dir: string, id: NodeIdentity): Promise<void> {
  return save(dir, id, true);
}

async function save(dir: string, id: NodeIdentity, clean: boolean): Promise<void> {
  const file = join(dir, 'node.json');
  const body: IdentityFile = { incarnation: id.incarnation, epoch: id.epoch, generations: id.generations, counters: id.counters, clean };
  // written aside, synced and renamed: neither a crash mid-write nor a power loss may leave a
  // broken file, or an old one that says clean after a crash
  const fh = await open(`${file}.tmp`, 'w');
  try {
    await fh.writeFile(JSON.stringify(body));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(`${file}.tmp`, file);
}
