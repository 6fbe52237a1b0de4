#!/usr/bin/env node
/**
 * rkv-operator: watches RkvClusters and drives their StatefulSets and ring
 * membership. Flags mirror controller-runtime's where one exists.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { Controller } from './k8s/controller.js';
import { EventRecorder } from './k8s/events.js';
import { Kube } from './k8s/kube.js';
import { LeaderElector } from './k8s/leader.js';
import { operatorMetrics } from './k8s/metrics.js';
import { NodeAdmin, resolvers } from './k8s/node_admin.js';
import { restClient } from './k8s/rest.js';

interface Flags {
  kubeconfig?: string;
  namespace?: string;
  metricsAddr: string;
  podAddress: 'dns' | 'ip';
  leaderElect: boolean;
  leaseNamespace?: string;
  leaseName: string;
  identity: string;
  resync: string;
  logLevel: string;
}

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function ownNamespace(): string {
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    return fs.readFileSync(SA_NAMESPACE, 'utf8').trim();
  } catch {
    return 'default';
  }
}

function listen(addr: string, handler: http.RequestListener): Promise<http.Server> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i) || '0.0.0.0';
  const port = Number(addr.slice(i + 1));
  const srv = http.createServer(handler);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve(srv));
  });
}

async function main(): Promise<void> {
  const program = new Command('rkv-operator')
    .description('Kubernetes operator for rkv clusters (RkvCluster, rkv.io/v1alpha1)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--namespace <ns>', 'watch only this namespace (default: all namespaces)')
    .option('--metrics-addr <host:port>', 'serve /metrics, /healthz and /readyz here', '0.0.0.0:8080')
    .addOption(new Option('--pod-address <mode>', 'reach node admin APIs by pod DNS name or pod IP').choices(['dns', 'ip']).default('dns'))
    .option('--no-leader-elect', 'run without the leader Lease (only one replica!)')
    .option('--lease-namespace <ns>', 'namespace of the leader Lease (default: the operator pod\'s)')
    .option('--lease-name <name>', 'name of the leader Lease', 'rkv-operator')
    .option('--identity <id>', 'this replica\'s identity in the Lease', `${os.hostname()}_${process.pid}`)
    .option('--resync <seconds>', 'reconcile every cluster at least this often', '60')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .parse();
  const f = program.opts<Flags>();
  const log = pino({ level: f.logLevel, base: { component: 'rkv-operator' } });
  const kc = new KubeConfig();
  if (f.kubeconfig) kc.loadFromFile(f.kubeconfig);
  else kc.loadFromDefault();
  const kube = new Kube(restClient(kc));
  const metrics = operatorMetrics();

  let ready = false;
  const server = await listen(f.metricsAddr, (req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      }, (e: Error) => {
        res.writeHead(500);
        res.end(e.message);
      });
    } else if (req.url === '/healthz') {
      res.end('ok');
    } else if (req.url === '/readyz') {
      res.writeHead(ready ? 200 : 503);
      res.end(ready ? 'ok' : 'not leading yet');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  log.info({ metrics: f.metricsAddr }, 'metrics listening');

  const controller = new Controller({
    kc, kube, metrics, log,
    admin: new NodeAdmin(),
    resolve: resolvers[f.podAddress],
    events: new EventRecorder(kube, f.identity),
    ...(f.namespace ? { namespace: f.namespace } : {}),
    resyncMs: Number(f.resync) * 1000,
  });

  let elector: LeaderElector | undefined;
  const shutdown = async (code: number) => {
    log.info('shutting down');
    await controller.stop().catch(() => undefined);
    await elector?.release().catch(() => undefined);
    metrics.leader.set(0);
    server.close();
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown(0));
  process.once('SIGINT', () => void shutdown(0));

  if (f.leaderElect) {
    elector = new LeaderElector(kube, { namespace: f.leaseNamespace ?? ownNamespace(), name: f.leaseName, identity: f.identity, log });
    log.info({ identity: f.identity }, 'waiting for the leader lease');
    // losing the lease mid-flight: exit, and let the Deployment restart us as a standby (client-go does the same)
    await elector.run(() => void shutdown(1));
  }
  metrics.leader.set(1);
  ready = true;
  await controller.start();
  log.info({ namespace: f.namespace ?? '(all)', podAddress: f.podAddress }, 'rkv-operator running');
}

main().catch((e: unknown) => {
  process.stderr.write(`rkv-operator: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
