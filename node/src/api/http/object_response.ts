import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { encodeContext } from '../../object/codec.js';
import type { Sibling } from '../../object/object.js';
import type { VClock } from '../../object/vclock.js';

/**
 * Riak's "vtag" of a sibling: it names one sibling in the 300 listing, in ETag
 * and in `?vtag=`. Derived from the dot, which is unique per write; actors that
 * are not plain header text are base64url-encoded so the header stays valid.
 */
export function vtag(s: Sibling): string {
  const text = `${s.dot[0]}:${s.dot[1]}`;
  return /^[\x21\x23-\x2b\x2d-\x7e]+$/.test(text) ? text : Buffer.from(text, 'utf8').toString('base64url');
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function wantsMultipart(req: Request): boolean {
  return (req.get('accept') ?? '').toLowerCase().includes('multipart/mixed');
}

function boundaryFor(siblings: readonly Sibling[]): string {
  for (;;) {
    const b = randomBytes(18).toString('base64url');
    if (!siblings.some((s) => s.value.includes(b))) return b;
  }
}

/** Riak's multipart/mixed sibling body: one part per sibling with its own metadata. */
function multipart(siblings: readonly Sibling[]): { boundary: string; body: Buffer } {
  const boundary = boundaryFor(siblings);
  const chunks: Buffer[] = [];
  for (const s of siblings) {
    const head =
      `--${boundary}\r\nContent-Type: ${s.contentType}\r\nLast-Modified: ${httpDate(s.lastModified)}\r\n` +
      `ETag: "${vtag(s)}"\r\nContent-Length: ${s.value.length}\r\n\r\n`;
    chunks.push(Buffer.from(head, 'utf8'), s.value, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { boundary, body: Buffer.concat(chunks) };
}

/**
 * Node's own setHeader/end rather than express's res.set/res.send: those add a
 * charset to text types, and the stored Content-Type must round-trip unchanged.
 */
function send(res: Response, status: number, contentType: string, body: Buffer): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

/**
 * Answers with the live siblings of an object: 200 and the value for one, 300
 * for several (every sibling as multipart/mixed when asked, else their vtags).
 */
export function sendSiblings(req: Request, res: Response, siblings: readonly Sibling[], context: VClock, okStatus = 200): void {
  res.setHeader('X-Riak-Vclock', encodeContext(context));
  const only = siblings.length === 1 ? siblings[0] : undefined;
  if (only !== undefined) {
    res.setHeader('Last-Modified', httpDate(only.lastModified));
    res.setHeader('ETag', `"${vtag(only)}"`);
    send(res, okStatus, only.contentType, only.value);
    return;
  }
  if (wantsMultipart(req)) {
    const { boundary, body } = multipart(siblings);
    send(res, 300, `multipart/mixed; boundary=${boundary}`, body);
    return;
  }
  const listing = `Siblings:\n${siblings.map((s) => `${vtag(s)}\n`).join('')}`;
  send(res, 300, 'text/plain', Buffer.from(listing, 'utf8'));
}

export function sendNotFound(res: Response, context: VClock | undefined): void {
  if (context !== undefined && Object.keys(context).length > 0) res.setHeader('X-Riak-Vclock', encodeContext(context));
  send(res, 404, 'text/plain', Buffer.from('not found\n', 'utf8'));
}
