import type { BucketDefaults, NodeConfig } from '../../node/src/config/node_config.js';

/**
 * The configuration in-process test nodes start with: loopback, ephemeral
 * ports, the memory backend, a 16-partition ring and the SPEC 2 bucket
 * defaults. Tests override what they exercise.
 */
export function testNodeConfig(dataDir: string, overrides: Partial<Omit<NodeConfig, 'bucketDefaults'>> & { bucketDefaults?: Partial<BucketDefaults> } = {}): NodeConfig {
  const { bucketDefaults, ...rest } = overrides;
  return {
    name: 'rkv@127.0.0.1',
    bind: '127.0.0.1',
    advertise: '127.0.0.1',
    respPort: 0,
    httpPort: 0,
    clusterPort: 0,
    dataDir,
    backend: 'memory',
    ringSize: 16,
    bucketDefaults: { n_val: 3, r: 'quorum', w: 'quorum', pr: 0, pw: 0, dw: 'quorum', allow_mult: false, last_write_wins: false, ...bucketDefaults },
    logLevel: 'silent',
    maxValueSize: 1024 * 1024,
    requestTimeoutMs: 5000,
    syncWrites: false,
    clusterName: 'test',
    ...rest,
  };
}
