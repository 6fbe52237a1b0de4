import type { QuorumValue } from '../config/node_config.js';
import { BadRequestError } from './types.js';

/**
 * Quorum arithmetic as a pure tally over the replies so far (cf. etcd's
 * quorum/majority.go): a request is won once `need` replicas (of which
 * `needPrimary` primaries) succeeded, lost once that can no longer happen.
 */
export function resolveQuorum(name: string, v: QuorumValue, n: number): number {
  let q: number;
  if (v === 'one') q = 1;
  else if (v === 'quorum') q = Math.floor(n / 2) + 1;
  else if (v === 'all') q = n;
  else q = v;
  if (!Number.isInteger(q) || q < 0) throw new BadRequestError(`invalid ${name}: ${String(v)}`);
  if (q > n) throw new BadRequestError(`${name}=${q} is larger than n_val=${n}`);
  return q;
}

export interface QuorumSpec {
  need: number;
  needPrimary: number;
  /** replicas asked, and how many of them are primaries */
  asked: number;
  askedPrimary: number;
}

export interface TallyCounts {
  ok: number;
  okPrimary: number;
  failed: number;
  failedPrimary: number;
}

export type TallyOutcome = 'pending' | 'won' | 'lost';

export function tally(spec: QuorumSpec, c: TallyCounts): TallyOutcome {
  if (c.ok >= spec.need && c.okPrimary >= spec.needPrimary) return 'won';
  const stillPossible = spec.asked - c.failed >= spec.need && spec.askedPrimary - c.failedPrimary >= spec.needPrimary;
  return stillPossible ? 'pending' : 'lost';
}

export function emptyCounts(): TallyCounts {
  return { ok: 0, okPrimary: 0, failed: 0, failedPrimary: 0 };
}

export function countReply(c: TallyCounts, ok: boolean, primary: boolean): void {
  if (ok) {
    c.ok++;
    if (primary) c.okPrimary++;
  } else {
    c.failed++;
    if (primary) c.failedPrimary++;
  }
}
