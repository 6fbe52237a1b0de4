import { join } from 'node:path';
import type { Backend } from './backend.js';
import { MemoryBackend } from './memory.js';
import { RocksDbBackend, type RocksDbOptions } from './rocksdb.js';

export type BackendKind = 'memory' | 'rocksdb';
export type BackendOptions = RocksDbOptions;

/** Opens the node's single backend; RocksDB lives in `<dataDir>/rocksdb` so the data dir can hold ring state beside it. */
export async function openBackend(kind: BackendKind, dataDir: string, opts: BackendOptions = {}): Promise<Backend> {
  switch (kind) {
    case 'memory':
      return new MemoryBackend();
    case 'rocksdb':
      return RocksDbBackend.open(join(dataDir, 'rocksdb'), opts);
    default:
      throw new Error(`unknown backend '${String(kind)}' (expected 'rocksdb' or 'memory')`);
  }
}
