/**
 * Envelopes carried by the cluster transport. Every frame decodes to exactly
 * one of these; anything else is a protocol error that drops the connection.
 * The validator is the only place an unknown decoded value becomes typed, so
 * nothing deeper has to defend against garbage.
 */

/** 2: handoff batches carry the sender's stored entries packed in one buffer (handoff_codec.ts). */
export const PROTOCOL_VERSION = 2;

/** Why a handshake was refused; 'wrong_node' = the peer at an address is not the node we meant to reach. */
export type RefuseReason = 'cluster_mismatch' | 'version_mismatch' | 'bad_secret' | 'secret_required' | 'malformed' | 'wrong_node';
const REFUSE_REASONS: ReadonlySet<string> = new Set<RefuseReason>([
  'cluster_mismatch', 'version_mismatch', 'bad_secret', 'secret_required', 'malformed', 'wrong_node',
]);

/** First message in each direction. `secured` says whether the sender has a cluster secret configured. */
export interface HelloMsg {
  t: 'hello';
  cluster: string;
  version: number;
  node: string;
  nonce: Buffer;
  secured: boolean;
}
/** Proof of the cluster secret: HMAC over both nonces, both node names and the cluster name. */
export interface AuthMsg {
  t: 'auth';
  mac: Buffer;
}
/** Sent just before closing so the other side can report a precise reason instead of a bare disconnect. */
export interface RefuseMsg {
  t: 'refuse';
  reason: RefuseReason;
  message: string;
}
export interface ReqMsg {
  t: 'req';
  id: number;
  kind: string;
  body: unknown;
}
export interface RemoteError {
  code: string;
  message: string;
}
export type ResMsg = { t: 'res'; id: number; ok: true; body: unknown } | { t: 'res'; id: number; ok: false; error: RemoteError };
export interface CastMsg {
  t: 'cast';
  kind: string;
  body: unknown;
}

export type HandshakeMsg = HelloMsg | AuthMsg | RefuseMsg;
export type Envelope = HandshakeMsg | ReqMsg | ResMsg | CastMsg;

export type Parsed = { ok: true; msg: Envelope } | { ok: false; reason: string };

const MAX_NAME = 255;
const MAX_KIND = 128;
const MAX_TEXT = 4096;
export const NONCE_BYTES = 32;
const MAC_BYTES = 32;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}
function isName(v: unknown, max = MAX_NAME): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}
function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_TEXT;
}
function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
function isBytes(v: unknown, len: number): v is Buffer {
  return Buffer.isBuffer(v) && v.length === len;
}

const bad = (reason: string): Parsed => ({ ok: false, reason });

/** Checks a decoded frame is a well-formed envelope; never throws. */
export function parseEnvelope(v: unknown): Parsed {
  if (!isRecord(v)) return bad('envelope is not a map');
  switch (v.t) {
    case 'hello':
      // version is any integer here so a future version is reported as version_mismatch, not malformed
      if (!isName(v.cluster) || !isName(v.node) || !Number.isInteger(v.version) || !isBytes(v.nonce, NONCE_BYTES) || typeof v.secured !== 'boolean') {
        return bad('malformed hello');
      }
      return { ok: true, msg: { t: 'hello', cluster: v.cluster, version: v.version as number, node: v.node, nonce: v.nonce, secured: v.secured } };
    case 'auth':
      if (!isBytes(v.mac, MAC_BYTES)) return bad('malformed auth');
      return { ok: true, msg: { t: 'auth', mac: v.mac } };
    case 'refuse':
      if (typeof v.reason !== 'string' || !REFUSE_REASONS.has(v.reason) || !isText(v.message)) return bad('malformed refuse');
      return { ok: true, msg: { t: 'refuse', reason: v.reason as RefuseReason, message: v.message } };
    case 'req':
      if (!isId(v.id) || !isName(v.kind, MAX_KIND)) return bad('malformed req');
      return { ok: true, msg: { t: 'req', id: v.id, kind: v.kind, body: v.body } };
    case 'res':
      if (!isId(v.id)) return bad('malformed res');
      if (v.ok === true) return { ok: true, msg: { t: 'res', id: v.id, ok: true, body: v.body } };
      if (v.ok === false && isRecord(v.error) && isName(v.error.code, MAX_KIND) && isText(v.error.message)) {
        return { ok: true, msg: { t: 'res', id: v.id, ok: false, error: { code: v.error.code, message: v.error.message } } };
      }
      return bad('malformed res');
    case 'cast':
      if (!isName(v.kind, MAX_KIND)) return bad('malformed cast');
      return { ok: true, msg: { t: 'cast', kind: v.kind, body: v.body } };
    default:
      // no String(v.t): a decoded map may carry a non-callable toString and String() would throw
      return bad(`unknown envelope type ${typeof v.t === 'string' ? JSON.stringify(v.t.slice(0, 40)) : typeof v.t}`);
  }
}
