/**
 * The validated configuration of one storage node (SPEC section 2). Produced by
 * config/load.ts from flags, environment and config file; consumed by node.ts.
 */
export type QuorumValue = number | 'one' | 'quorum' | 'all';

export interface BucketDefaults {
  n_val: number;
  r: QuorumValue;
  w: QuorumValue;
  pr: QuorumValue;
  pw: QuorumValue;
  dw: QuorumValue;
  allow_mult: boolean;
  last_write_wins: boolean;
}

export interface NodeConfig {
  name: string;
  bind: string;
  advertise: string;
  respPort: number;
  httpPort: number;
  clusterPort: number;
  dataDir: string;
  backend: 'rocksdb' | 'memory';
  ringSize: number;
  bucketDefaults: BucketDefaults;
  clusterSecret?: string;
  /** optional RESP password (AUTH); none by default, as redis-server */
  requirePass?: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** largest value accepted by RESP and HTTP, bytes */
  maxValueSize: number;
  /** per-request timeout of the KV coordinators, ms */
  requestTimeoutMs: number;
  /** fsync the RocksDB WAL on every write batch */
  syncWrites: boolean;
  /** cluster name checked in the transport handshake */
  clusterName: string;
}
