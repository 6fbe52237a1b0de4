/**
 * `npm run image:stats`: builds the node image (node/Dockerfile) and prints its
 * size and its start-up time to ready: `docker run` of a fresh container with
 * an empty volume until GET /health/ready answers 200, best of several runs.
 *
 *   npm run image:stats                                   # on node:20-bookworm-slim if present locally, else rkv-base:local
 *   npm run image:stats -- --base node:20-bookworm-slim   # a given base (pulled if missing)
 *   npm run image:stats -- --runs 5 --backend memory
 *
 * rkv-base:local is the registry-free stand-in the container tests use (the
 * host's node binary, its shared libraries and busybox; see
 * test/containers/images.ts). Results also go to bench-results/image-stats.json.
 */
import '../test/containers/env.js';
import fs from 'node:fs';
import { http } from '../test/containers/http.js';
import { DEFAULT_BASE, LOCAL_BASE, buildLocalBase, docker, imageId, imageSize, nodeImage, dockerStatus } from '../test/containers/images.js';
import { freePort } from './support.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;

const status = await dockerStatus();
if (!status.ok) {
  process.stderr.write(`image:stats: ${status.reason}\n`);
  process.exit(1);
}

let base = arg('base', '');
if (!base) base = (await imageId(DEFAULT_BASE)) ? DEFAULT_BASE : await buildLocalBase();
else if (base === LOCAL_BASE) await buildLocalBase();
else if (!(await imageId(base))) {
  const pull = await docker(['pull', base]);
  if (pull.code !== 0) {
    process.stderr.write(`image:stats: cannot pull ${base}: ${pull.stderr.trim()}\n`);
    process.exit(1);
  }
}
const runs = Number(arg('runs', '3'));
const backend = arg('backend', 'rocksdb');

const t0 = Date.now();
const image = await nodeImage(base);
const buildS = (Date.now() - t0) / 1000;
const size = await imageSize(image);
const baseSize = await imageSize(base);

const startups: number[] = [];
const fromProcess: number[] = [];
for (let i = 0; i < runs; i++) {
  const port = await freePort('0.0.0.0');
  const name = `rkv-image-stats-${process.pid}-${i}`;
  const started = Date.now();
  // the owner label lets the container tier remove it should this process die first
  const run = await docker(['run', '-d', '--rm', '--name', name, '--label', `rkv.test.owner=${process.pid}`, '--hostname', 'stats', '-p', `${port}:8098`, image, 'start', '--backend', backend]);
  if (run.code !== 0) throw new Error(`docker run failed: ${run.stderr}`);
  try {
    let ready = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      const ok = await http(`http://127.0.0.1:${port}/health/ready`, { timeoutMs: 1000 }).then((r) => r.status === 200, () => false);
      if (ok) {
        ready = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!ready) throw new Error(`container ${name} not ready within 60 s`);
    startups.push(ready - started);
    const at = await docker(['inspect', '--format', '{{.State.StartedAt}}', name]);
    fromProcess.push(ready - Date.parse(at.stdout.trim()));
  } finally {
    await docker(['rm', '-f', '-v', name]);
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const result = {
  image,
  base,
  baseImageSizeBytes: baseSize,
  imageSizeBytes: size,
  appLayersBytes: size - baseSize,
  buildSeconds: buildS,
  backend,
  startupToReadyMs: { runs: startups, min: Math.min(...startups), median: median(startups), max: Math.max(...startups) },
  processStartToReadyMs: { runs: fromProcess, median: median(fromProcess) },
  docker: status.version,
};

const rows: [string, string][] = [
  ['image', image],
  ['base', `${base} (${mb(baseSize)})`],
  ['image size', `${mb(size)} (rkv layers ${mb(size - baseSize)})`],
  ['build', buildS < 1 ? 'cached' : `${buildS.toFixed(1)} s`],
  [`start-up to ready (docker run -> /health/ready 200, ${backend})`, `median ${result.startupToReadyMs.median} ms (min ${result.startupToReadyMs.min}, max ${result.startupToReadyMs.max}, ${runs} runs)`],
  ['  of which container start -> ready', `median ${result.processStartToReadyMs.median} ms`],
];
const w = Math.max(...rows.map((r) => r[0].length));
process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`);
fs.mkdirSync('bench-results', { recursive: true });
fs.writeFileSync('bench-results/image-stats.json', `${JSON.stringify(result, null, 2)}\n`);
