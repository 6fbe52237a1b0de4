/**
 * Images for the container tier, built once per content change:
 *
 * - `rkv-base:local`: a base image assembled FROM scratch out of this host's
 *   node binary (process.execPath), npm, the shared libraries `ldd` lists for
 *   node and the native addons in node_modules (glibc, libstdc++, the dynamic
 *   loader) and a static busybox for /bin/sh. It stands in for
 *   node:20-bookworm-slim where no registry is reachable; node/Dockerfile is
 *   the same either way, only --build-arg BASE_IMAGE differs.
 *   RKV_TEST_BASE_IMAGE=node:20-bookworm-slim uses a real base instead.
 * - `rkv-node:test-<hash>` from node/Dockerfile, `rkv-operator:test-<hash>` from
 *   operator/Dockerfile; the hash covers what goes into the image (dist/,
 *   package-lock.json, bin/, the Dockerfile, .dockerignore, the base image id),
 *   so a rerun with nothing rebuilt starts at once.
 *
 * Builds go through the docker CLI (its .dockerignore handling and error
 * output); containers and networks through testcontainers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/containers/ or test/containers/. */
export const REPO = (() => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'node', 'Dockerfile'))) return dir;
  }
  throw new Error('cannot find the repository root (package.json next to node/Dockerfile)');
})();

export const LOCAL_BASE = 'rkv-base:local';
export const DEFAULT_BASE = 'node:20-bookworm-slim';
const BASE_RECIPE = 'rkv-base/3';

const log = (msg: string) => process.stderr.write(`containers: ${msg}\n`);

// ---- docker CLI ------------------------------------------------------------------

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `docker ...args`; output is collected (the last 64 KiB of each stream). */
export function docker(args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { cwd: opts.cwd ?? REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-65536)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-65536)));
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function dockerOk(args: string[], what: string, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (docker ${args.join(' ')} exited ${r.code}):\n${(r.stdout + r.stderr).slice(-6000)}`);
  return r.stdout.trim();
}

/** Undefined when the image is not present locally. */
export async function imageId(ref: string): Promise<string | undefined> {
  const r = await docker(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 30_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

async function imageLabel(ref: string, label: string): Promise<string | undefined> {
  const r = await docker(['image', 'inspect', '--format', `{{index .Config.Labels "${label}"}}`, ref], { timeoutMs: 30_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Uncompressed size in bytes, as `docker images` reports it. */
export async function imageSize(ref: string): Promise<number> {
  return Number(await dockerOk(['image', 'inspect', '--format', '{{.Size}}', ref], `size of ${ref}`, { timeoutMs: 30_000 }));
}

// ---- is there a Docker engine? ----------------------------------------------------

export interface DockerStatus {
  ok: boolean;
  /** why the tier cannot run, when !ok */
  reason: string;
  /** server version, when ok */
  version?: string;
}

let status: Promise<DockerStatus> | undefined;

/** `docker version` against the daemon (DOCKER_HOST or the default socket), within 20 s. */
export function dockerStatus(): Promise<DockerStatus> {
  status ??= (async () => {
    const r = await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 20_000 });
    if (r.code === 127) return { ok: false, reason: 'no docker CLI on PATH (install docker.io / docker-ce-cli)' };
    if (r.code !== 0 || r.stdout.trim() === '') {
      const why = (r.stderr.trim().split('\n').pop() ?? '').slice(0, 300);
      return { ok: false, reason: `no Docker daemon reachable${process.env.DOCKER_HOST ? ` at DOCKER_HOST=${process.env.DOCKER_HOST}` : ''}${why ? ` (${why})` : ''}` };
    }
    return { ok: true, reason: '', version: r.stdout.trim() };
  })();
  return status;
}

// ---- the local base image -----------------------------------------------------------

/** Resolved paths of the shared libraries and loader `ldd` lists for `file`; [] for static files. */
function lddPaths(file: string): string[] {
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.status !== 0) return []; // "not a dynamic executable"
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
    else if (/not found/.test(line) && !/musl/.test(line)) throw new Error(`ldd ${file}: ${line.trim()}`);
  }
  return out;
}

/** glibc native addons in node_modules (rocksdb, msgpackr-extract, resvg...) for this platform. */
function nativeAddons(): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 8 && !['darwin', 'win32', 'musl', 'test', 'deps', 'src'].some((x) => e.name.includes(x))) walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.node') && !e.name.includes('musl') && p.includes(`${process.platform}-${process.arch}`)) found.push(p);
    }
  };
  walk(path.join(REPO, 'node_modules'), 0);
  return found;
}

/** Where `npm` lives next to this node: <prefix>/lib/node_modules/npm. */
function npmDir(): string {
  const candidates = [path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm')];
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status === 0) {
    const real = fs.realpathSync(which.stdout.trim()); // .../node_modules/npm/bin/npm-cli.js
    candidates.push(path.resolve(path.dirname(real), '..'));
  }
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'bin', 'npm-cli.js')));
  if (!dir) throw new Error(`cannot find npm next to ${process.execPath}; the local base needs it for \`npm prune\``);
  return fs.realpathSync(dir);
}

/** /bin/busybox, installing Debian's busybox-static when it is missing and we may. */
function busybox(): string {
  const bb = '/bin/busybox';
  if (fs.existsSync(bb)) return bb;
  const root = process.getuid?.() === 0;
  if (root && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0) {
    log('installing busybox-static (apt-get) for the local base image');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'busybox-static'], { env, encoding: 'utf8' });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { env, encoding: 'utf8' });
      r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'busybox-static'], { env, encoding: 'utf8' });
    }
    if (fs.existsSync(bb)) return bb;
    throw new Error(`apt-get install busybox-static failed: ${r.stderr}`);
  }
  throw new Error('the local base image needs /bin/busybox: apt-get install busybox-static (or set RKV_TEST_BASE_IMAGE to a node image you have)');
}

const etcFiles: Record<string, string> = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n',
  'etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
};

const BASE_DOCKERFILE = `FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /usr/bin /usr/local/bin /tmp /root /home/node \\
 && ln -s /bin/busybox /usr/bin/env \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && chmod 1777 /tmp && chown node:node /home/node
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["node"]
`;

function fileStamp(p: string): string {
  const s = fs.statSync(p);
  return `${p}:${s.size}:${s.mtimeMs}`;
}

/**
 * Builds (or finds up to date) rkv-base:local: this host's node, npm, their
 * shared libraries and busybox, FROM scratch.
 */
export async function buildLocalBase(): Promise<string> {
  const node = fs.realpathSync(process.execPath);
  const bb = busybox();
  const npm = npmDir();
  const libs = new Set<string>();
  for (const f of [node, bb, ...nativeAddons()]) for (const l of lddPaths(f)) libs.add(l);
  const hash = createHash('sha256')
    .update([BASE_RECIPE, BASE_DOCKERFILE, fileStamp(node), fileStamp(bb), fileStamp(path.join(npm, 'package.json')), ...[...libs].sort().map(fileStamp), JSON.stringify(etcFiles)].join('\n'))
    .digest('hex')
    .slice(0, 16);
  if ((await imageLabel(LOCAL_BASE, 'rkv.base.hash')) === hash) return LOCAL_BASE;

  const t0 = Date.now();
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-base-'));
  try {
    const root = path.join(ctx, 'rootfs');
    const put = (src: string, dest: string) => {
      fs.mkdirSync(path.dirname(path.join(root, dest)), { recursive: true });
      fs.copyFileSync(src, path.join(root, dest)); // follows symlinks: libc.so.6 -> libc-2.36.so arrives as libc.so.6
      fs.chmodSync(path.join(root, dest), fs.statSync(src).mode & 0o777);
    };
    put(node, 'usr/local/bin/node');
    put(bb, 'bin/busybox');
    for (const l of libs) put(l, l.slice(1));
    fs.cpSync(npm, path.join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
    for (const [f, text] of Object.entries(etcFiles)) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), text);
    }
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), BASE_DOCKERFILE);
    log(`building ${LOCAL_BASE} from ${node} (${process.version}), npm, busybox and ${libs.size} shared libraries`);
    await dockerOk(['build', '--label', `rkv.base.hash=${hash}`, '-t', LOCAL_BASE, '.'], `docker build of ${LOCAL_BASE}`, { cwd: ctx });
    log(`built ${LOCAL_BASE} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
  return LOCAL_BASE;
}

/** RKV_TEST_BASE_IMAGE when set (e.g. node:20-bookworm-slim where a registry is reachable), else the local base. */
export async function testBaseImage(): Promise<string> {
  const want = process.env.RKV_TEST_BASE_IMAGE;
  if (want) {
    if (!(await imageId(want))) await dockerOk(['pull', want], `docker pull ${want}`);
    return want;
  }
  return buildLocalBase();
}

// ---- the node and operator images ------------------------------------------------------

function hashTree(h: ReturnType<typeof createHash>, dir: string, skip: (rel: string) => boolean = () => false): void {
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      const rel = path.relative(REPO, p);
      if (skip(rel)) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(`${rel}\0`).update(fs.readFileSync(p)).update('\0');
    }
  };
  walk(dir);
}

/** A hash of what the build context feeds the image (dist trees, lockfile, bin, Dockerfile, .dockerignore) and the base. */
function contextHash(dockerfile: string, distDirs: string[], baseId: string): string {
  const h = createHash('sha256').update(`${baseId}\0`);
  for (const f of [dockerfile, '.dockerignore', 'package.json', 'package-lock.json']) {
    const p = path.join(REPO, f);
    h.update(`${f}\0`).update(fs.existsSync(p) ? fs.readFileSync(p) : '').update('\0');
  }
  hashTree(h, path.join(REPO, 'bin'));
  for (const d of distDirs) hashTree(h, path.join(REPO, d), (rel) => rel.endsWith('.map'));
  return h.digest('hex').slice(0, 16);
}

const building = new Map<string, Promise<string>>();

async function buildImage(repo: string, dockerfile: string, distDirs: string[], base: string): Promise<string> {
  const baseId = await imageId(base);
  if (!baseId) throw new Error(`base image ${base} not present`);
  const tag = `${repo}:test-${contextHash(dockerfile, distDirs, baseId)}`;
  if (await imageId(tag)) return tag;
  const pending = building.get(tag);
  if (pending) return pending;
  const p = (async () => {
    const t0 = Date.now();
    log(`building ${tag} from ${dockerfile} on ${base}`);
    await dockerOk(['build', '-f', dockerfile, '--build-arg', `BASE_IMAGE=${base}`, '--label', 'rkv.test=1', '-t', tag, '.'], `docker build -f ${dockerfile}`);
    log(`built ${tag} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // older test builds of this repository are superseded
    const old = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', repo]);
    for (const ref of old.stdout.split('\n').filter((r) => r.startsWith(`${repo}:test-`) && r !== tag)) await docker(['image', 'rm', ref]);
    return tag;
  })();
  building.set(tag, p);
  try {
    return await p;
  } finally {
    building.delete(tag);
  }
}

/** The compiled node must exist: the image is assembled from dist/. */
function needDist(file: string): void {
  if (!fs.existsSync(path.join(REPO, file))) throw new Error(`${file} missing: run "npm run build" first`);
}

/** node/Dockerfile on the test base; reused while dist/node, the lockfile and the Dockerfile are unchanged. */
export async function nodeImage(base?: string): Promise<string> {
  needDist('dist/node/src/cli/main.js');
  return buildImage('rkv-node', 'node/Dockerfile', ['dist/node'], base ?? (await testBaseImage()));
}

export const OPERATOR_MAIN = 'dist/operator/src/main.js';

/** operator/Dockerfile on the test base; only once the operator is built. */
export async function operatorImage(base?: string): Promise<string> {
  needDist(OPERATOR_MAIN);
  return buildImage('rkv-operator', 'operator/Dockerfile', ['dist/operator', 'dist/node'], base ?? (await testBaseImage()));
}
