import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { BucketDefaults, QuorumValue } from '../config/node_config.js';
import { BadRequestError, type BucketProps } from './types.js';

const QUORUM_PROPS = ['r', 'w', 'pr', 'pw', 'dw'] as const;
const BOOL_PROPS = ['allow_mult', 'last_write_wins'] as const;

/** Validates a partial props object from a client; throws BadRequestError with a plain message. */
export function validateProps(input: unknown, ringSize: number): Partial<BucketProps> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new BadRequestError('props must be a JSON object');
  const out: Partial<BucketProps> = {};
  for (const [k, v] of Object.entries(input)) {
    if (k === 'n_val') {
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > ringSize) throw new BadRequestError(`n_val must be an integer between 1 and ${ringSize}`);
      out.n_val = v as number;
    } else if ((QUORUM_PROPS as readonly string[]).includes(k)) {
      if (!(v === 'one' || v === 'quorum' || v === 'all' || (Number.isInteger(v) && (v as number) >= 0))) {
        throw new BadRequestError(`${k} must be a non-negative integer or one|quorum|all`);
      }
      out[k as (typeof QUORUM_PROPS)[number]] = v as QuorumValue;
    } else if ((BOOL_PROPS as readonly string[]).includes(k)) {
      if (typeof v !== 'boolean') throw new BadRequestError(`${k} must be true or false`);
      out[k as (typeof BOOL_PROPS)[number]] = v;
    } else {
      throw new BadRequestError(`unknown bucket property "${k}"`);
    }
  }
  return out;
}

/**
 * Per-bucket properties over the node defaults, persisted in the data dir.
 * (The cluster metadata subsystem will spread them to every node.)
 */
export class BucketRegistry {
  private readonly props = new Map<string, Partial<BucketProps>>();

  private constructor(
    private readonly file: string,
    private readonly defaults: BucketDefaults,
  ) {}

  static async open(dataDir: string, defaults: BucketDefaults): Promise<BucketRegistry> {
    const reg = new BucketRegistry(join(dataDir, 'buckets.json'), defaults);
    try {
      const saved = JSON.parse(await readFile(reg.file, 'utf8')) as Record<string, Partial<BucketProps>>;
      for (const [b, p] of Object.entries(saved)) reg.props.set(b, p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`bucket properties file ${reg.file} is unreadable: ${(e as Error).message}`);
    }
    return reg;
  }

  get(bucket: Buffer): BucketProps {
    const own = this.props.size === 0 ? undefined : this.props.get(bucket.toString('base64'));
    return own ? { ...this.defaults, ...own } : this.defaults;
  }

  async set(bucket: Buffer, props: Partial<BucketProps>): Promise<BucketProps> {
    const id = bucket.toString('base64');
    this.props.set(id, { ...this.props.get(id), ...props });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(this.props)));
    await rename(tmp, this.file);
    return this.get(bucket);
  }
}
