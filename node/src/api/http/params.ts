import type { Request } from 'express';
import type { QuorumValue } from '../../config/node_config.js';
import { MAX_BUCKET_BYTES, MAX_KEY_BYTES } from '../../kv/service.js';
import type { GetOptions, PutOptions } from '../../kv/types.js';
import { decodeContext } from '../../object/codec.js';
import type { VClock } from '../../object/vclock.js';
import { badRequest } from './errors.js';


/** One query parameter; a repeated one is ambiguous, so it is refused rather than guessed. */
export function queryParam(req: Request, name: string): string | undefined {
  const v: unknown = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} given more than once`);
  return v;
}

function invalid(name: string, value: string): never {
  throw badRequest(`invalid ${name}: ${JSON.stringify(value)}`);
}

/** `default` means "the bucket's own value", which is what leaving the option out does. */
export function parseQuorumText(name: string, value: string): QuorumValue | undefined {
  if (value === 'default') return undefined;
  if (value === 'one' || value === 'quorum' || value === 'all') return value;
  if (/^\d{1,9}$/.test(value)) return Number(value);
  return invalid(name, value);
}

function quorum(req: Request, name: string): QuorumValue | undefined {
  const v = queryParam(req, name);
  return v === undefined ? undefined : parseQuorumText(name, v);
}

function positiveInt(req: Request, name: string): number | undefined {
  const v = queryParam(req, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v) || Number(v) === 0) return invalid(name, v);
  return Number(v);
}

export interface ObjectQuery {
  get: GetOptions;
  put: PutOptions;
  returnBody: boolean;
}

export function parseObjectQuery(req: Request): ObjectQuery {
  const get: GetOptions = {};
  const put: PutOptions = {};
  const r = quorum(req, 'r');
  const pr = quorum(req, 'pr');
  const w = quorum(req, 'w');
  const pw = quorum(req, 'pw');
  const dw = quorum(req, 'dw');
  const nVal = positiveInt(req, 'n_val');
  const timeoutMs = positiveInt(req, 'timeout');
  if (r !== undefined) get.r = r;
  if (pr !== undefined) get.pr = pr;
  if (w !== undefined) put.w = w;
  if (pw !== undefined) put.pw = pw;
  if (dw !== undefined) put.dw = dw;
  if (nVal !== undefined) get.n_val = put.n_val = nVal;
  if (timeoutMs !== undefined) get.timeoutMs = put.timeoutMs = timeoutMs;
  const rb = queryParam(req, 'returnbody');
  if (rb !== undefined && rb !== 'true' && rb !== 'false') invalid('returnbody', rb);
  return { get, put, returnBody: rb === 'true' };
}

function segment(req: Request, index: number): string {
  // The router has already URL-decoded it (a malformed escape is its 400).
  const v: unknown = (req.params as Record<string, unknown>)[String(index)];
  return typeof v === 'string' ? v : '';
}

export function bucketName(req: Request): string {
  const bucket = segment(req, 0);
  if (bucket.length === 0) throw badRequest('bucket name must not be empty');
  const bytes = Buffer.byteLength(bucket, 'utf8');
  if (bytes > MAX_BUCKET_BYTES) throw badRequest(`bucket name of ${bytes} bytes exceeds the maximum of ${MAX_BUCKET_BYTES} bytes`);
  return bucket;
}

export function keyName(req: Request): string {
  const key = segment(req, 1);
  if (key.length === 0) throw badRequest('key must not be empty');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw badRequest(`key of ${bytes} bytes exceeds the maximum of ${MAX_KEY_BYTES} bytes`);
  return key;
}

/** undefined when the client sent none: a blind write, as in Riak. */
export function contextHeader(req: Request): VClock | undefined {
  const text = req.get('x-riak-vclock');
  if (text === undefined || text.trim() === '') return undefined;
  // Buffer.from(base64) silently skips junk, so the alphabet is checked first.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text.trim())) throw badRequest('malformed causal context (X-Riak-Vclock)');
  return decodeContext(text.trim());
}
