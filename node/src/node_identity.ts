import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, access, constants } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The data dir's identity. The incarnation is minted when the data dir is
 * created: it names this node's DVV actors, so a node whose disk was wiped
 * gets new actors instead of reusing counters other replicas have already seen.
 */
export interface NodeIdentity {
  incarnation: string;
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

export async function loadIdentity(dir: string, mint: () => string = () => randomBytes(4).toString('hex')): Promise<NodeIdentity> {
  const file = join(dir, 'node.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as NodeIdentity;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`node identity file ${file} is unreadable`);
  }
  const id: NodeIdentity = { incarnation: mint() };
  await writeFile(file, JSON.stringify(id));
  return id;
}
