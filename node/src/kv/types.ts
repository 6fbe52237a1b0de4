import type { RkvObject, Sibling } from '../object/object.js';
import type { VClock } from '../object/vclock.js';
import type { BucketDefaults, QuorumValue } from '../config/node_config.js';

/** Bucket properties as in Riak (GET|PUT /buckets/{b}/props). */
export type BucketProps = BucketDefaults;

export interface GetOptions {
  r?: QuorumValue;
  pr?: QuorumValue;
  timeoutMs?: number;
  n_val?: number;
}

export interface PutOptions {
  w?: QuorumValue;
  pw?: QuorumValue;
  dw?: QuorumValue;
  timeoutMs?: number;
  n_val?: number;
  /**
   * Redis semantics: the write replaces whatever the coordinating vnode has seen,
   * as if the client had sent that replica's context (RESP SET / DEL).
   */
  overwrite?: boolean;
}

export interface NewContent {
  value: Buffer;
  contentType: string;
  /** absolute ms since the epoch; RESP EX/PX */
  expiresAt?: number;
}

export type GetResult =
  | { found: false; /** context of a tombstone, when one was read */ context?: VClock }
  | { found: true; object: RkvObject; /** live siblings, >1 means siblings */ siblings: readonly Sibling[]; context: VClock };

export interface PutResult {
  object: RkvObject;
  context: VClock;
}

/**
 * A front end's clock readings for one request, shared with the coordinator
 * so that a request answered in the caller's turn reads the clock twice, not
 * four times (a clock read costs as much as a small request step in a VM):
 * the coordinator times from `start` instead of reading the clock, and sets
 * `end` to its own end reading when it answers synchronously (it never
 * touches it later).
 */
export interface RequestTiming {
  /** performance.now() when the request started */
  start: number;
  /** performance.now() when a synchronous answer was timed; 0 when there was none */
  end: number;
  /**
   * the node's wall clock (ms) as read for this request and others of the same
   * client read, for last-modified times and expiry; 0 or absent: read it now
   */
  wall?: number;
}

/** What the RESP and HTTP front ends call. Implemented by kv/service.ts. */
export interface KvApi {
  get(bucket: Buffer, key: Buffer, opts?: GetOptions): Promise<GetResult>;
  put(bucket: Buffer, key: Buffer, content: NewContent, context: VClock | undefined, opts?: PutOptions): Promise<PutResult>;
  /**
   * get() in the caller's turn when every replica can answer at once; undefined: call get().
   * `timing`: the caller's clock for this request (see RequestTiming).
   */
  getNow?(bucket: Buffer, key: Buffer, opts?: GetOptions, timing?: RequestTiming): GetResult | undefined;
  /**
   * put() started in the caller's turn when every replica can write at once:
   * the result, or on a backend that writes asynchronously the promise of it;
   * undefined (nothing written): call put().
   */
  putNow?(bucket: Buffer, key: Buffer, content: NewContent, context: VClock | undefined, opts?: PutOptions, timing?: RequestTiming): PutResult | Promise<PutResult> | undefined;
  /** Writes a tombstone; resolves false when there was nothing live to delete. */
  delete(bucket: Buffer, key: Buffer, context: VClock | undefined, opts?: PutOptions): Promise<boolean>;
  bucketProps(bucket: Buffer): BucketProps;
  setBucketProps(bucket: Buffer, props: Partial<BucketProps>): Promise<BucketProps>;
  /** Number of live keys in a bucket (local coverage fold for now). */
  count(bucket: Buffer): Promise<number>;
  /**
   * One page of a hash-ordered scan of a bucket's live keys: keys with hash32 >= cursor.
   * Returns the next cursor (0 when the scan is complete). `count` is a hint:
   * keys sharing one hash32 are never split across pages, so no key is skipped.
   */
  scan(bucket: Buffer, cursor: number, count: number, match?: (key: Buffer) => boolean): Promise<{ cursor: number; keys: Buffer[] }>;
}

export class UnavailableError extends Error {
  constructor(
    message: string,
    readonly detail: { needed: number; answered: number; kind: 'r' | 'w' | 'pr' | 'pw' | 'dw' },
  ) {
    super(message);
    this.name = 'UnavailableError';
  }
}

export class RequestTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestTimeoutError';
  }
}

export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequestError';
  }
}
