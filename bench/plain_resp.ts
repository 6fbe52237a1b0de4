/**
 * The smallest Node RESP server that redis-benchmark's SET/GET runs work
 * against: one Map, no parser state beyond the unconsumed tail, one write per
 * socket and event-loop turn. bench:resp measures it next to redis-server and rkv as the
 * ceiling of a single Node event loop on this machine, so rkv's figures can
 * be read against what Node itself allows. Not a server for anything else.
 *
 *   node dist/bench/plain_resp.js <port>
 */
import net from 'node:net';

const CRLF = Buffer.from('\r\n');
const OK = Buffer.from('+OK\r\n');
const NIL = Buffer.from('$-1\r\n');
const PONG = Buffer.from('+PONG\r\n');

function lineEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf(13, from);
  return i >= 0 && i + 1 < buf.length ? i : -1;
}

function serve(socket: net.Socket, store: Map<string, Buffer>): void {
  let pending: Buffer | null = null;
  socket.on('data', (chunk: Buffer) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      if (at >= buf.length) break;
      let e = lineEnd(buf, at);
      if (e < 0) break;
      if (buf[at] !== 0x2a) {
        // an inline command (`PING\r\n`, as the bench's readiness probe sends)
        const words = buf.toString('latin1', at, e).trim().split(/\s+/);
        at = e + 2;
        out.push(words[0]?.toLowerCase() === 'ping' ? PONG : Buffer.from('-ERR inline commands other than PING are not supported\r\n'));
        continue;
      }
      const n = Number(buf.toString('latin1', at + 1, e));
      let p = e + 2;
      const args: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        e = lineEnd(buf, p);
        if (e < 0) break;
        const len = Number(buf.toString('latin1', p + 1, e));
        if (e + 4 + len > buf.length) break;
        args.push(buf.subarray(e + 2, e + 2 + len));
        p = e + 4 + len;
      }
      if (args.length < n) break;
      at = p;
      const cmd = args[0]?.toString('latin1').toLowerCase();
      if (cmd === 'set' && args.length >= 3) {
        store.set(args[1]!.toString('latin1'), Buffer.from(args[2]!));
        out.push(OK);
      } else if (cmd === 'get' && args.length >= 2) {
        const v = store.get(args[1]!.toString('latin1'));
        out.push(v ? Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, CRLF]) : NIL);
      } else if (cmd === 'ping') out.push(PONG);
      else out.push(Buffer.from(`-ERR unknown command '${cmd ?? ''}'\r\n`));
    }
    pending = at < buf.length ? Buffer.from(buf.subarray(at)) : null;
    if (out.length > 0) later(socket, out.length === 1 ? out[0]! : Buffer.concat(out));
  });
  socket.on('error', () => socket.destroy());
}

// Replies go out once per event-loop turn, after every readable socket was
// served (as redis and rkv do): many fewer wake-ups of the client.
let due: [net.Socket, Buffer][] = [];
function later(socket: net.Socket, reply: Buffer): void {
  if (due.push([socket, reply]) === 1) {
    setImmediate(() => {
      const now = due;
      due = [];
      for (const [s, b] of now) s.write(b);
    });
  }
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: plain_resp.js <port>\n');
  process.exit(2);
}
const store = new Map<string, Buffer>();
net.createServer({ noDelay: true }, (s) => serve(s, store)).listen(port, '127.0.0.1');
