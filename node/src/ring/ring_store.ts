import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Ring } from './ring.js';

/** Ring persistence in the data dir: written to a temp file then renamed, so a crash never leaves half a ring. */
export const RING_FILE = 'ring.json';

export async function loadRing(dataDir: string): Promise<Ring | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, RING_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as Ring;
  } catch {
    throw new Error(`ring state ${join(dataDir, RING_FILE)} is corrupt (not JSON)`);
  }
}

export async function saveRing(dataDir: string, ring: Ring): Promise<void> {
  const path = join(dataDir, RING_FILE);
  await writeFile(`${path}.tmp`, JSON.stringify(ring));
  await rename(`${path}.tmp`, path);
}
