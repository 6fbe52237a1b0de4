/**
 * What the /admin HTTP endpoints (and so `rkv admin` and the operator) can ask
 * of a node. Optional members are capabilities that arrive with later
 * subsystems; a missing one answers 501 with a clear message.
 */
export interface MemberStatusRow {
  name: string;
  status: 'joining' | 'valid' | 'leaving' | 'exiting' | 'down';
  ringPct: number;
  pendingPct: number;
  reachable: boolean;
}

export interface RingStatus {
  claimant: string;
  ringReady: boolean;
  ringSize: number;
  pendingOwnershipTransfers: number;
  unreachable: string[];
}

/** Options of coverage queries from the query string: ?selector=all|allup&sample=0.25&offset=3 */
export interface CoverageQuery {
  selector?: 'all' | 'allup';
  sample?: number;
  offset?: number;
}

export interface AdminApi {
  memberStatus(): Promise<{ members: MemberStatusRow[] }>;
  ringStatus(): Promise<RingStatus>;
  transfers?(): Promise<unknown>;
  getTransferLimit?(): Promise<{ limit: number }>;
  setTransferLimit?(limit: number): Promise<{ limit: number }>;
  join?(node: string): Promise<unknown>;
  leave?(node: string | undefined): Promise<unknown>;
  forceRemove?(node: string): Promise<unknown>;
  plan?(): Promise<unknown>;
  commit?(): Promise<unknown>;
  clear?(): Promise<unknown>;
  resize?(size: number): Promise<unknown>;
  resizeAbort?(): Promise<unknown>;
  repair?(partition: number): Promise<unknown>;
  keys?(bucket: string, opts?: CoverageQuery): Promise<{ keys: string[]; partial?: boolean }>;
  count?(bucket: string, opts?: CoverageQuery): Promise<{ count: number; partial?: boolean }>;
  /** partitions holding data on this node (riak-admin vnode-status) */
  vnodeStatus?(): Promise<unknown>;
}
