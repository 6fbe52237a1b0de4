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
 * Per-bucket properties over the node defaults. They live in the ring (set at
 * the claimant, gossiped), so every coordinator in the cluster uses the same.
 */
export class BucketRegistry {
  constructor(
    private readonly props: () => Record<string, Record<string, unknown>> | undefined,
    private readonly defaults: BucketDefaults,
    private readonly update: (bucketId: string, props: Partial<BucketProps>) => Promise<void>,
  ) {}

  get(bucket: Buffer): BucketProps {
    const all = this.props();
    const own = all === undefined ? undefined : all[bucket.toString('base64')];
    return own ? ({ ...this.defaults, ...own } as BucketProps) : this.defaults;
  }

  async set(bucket: Buffer, props: Partial<BucketProps>): Promise<BucketProps> {
    await this.update(bucket.toString('base64'), props);
    return this.get(bucket);
  }
}
