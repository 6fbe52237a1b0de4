import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { rkvClusterCRD } from '../../../operator/src/crd/crd.js';
import { Kube } from '../../../operator/src/k8s/kube.js';
import { CLUSTER_RULES, LEADER_RULES } from '../../../operator/src/k8s/rbac.js';
import { restClient } from '../../../operator/src/k8s/rest.js';
import { Kubelet } from './kubelet.js';
import { ApiServer, MONITORING_TYPES } from './server.js';

/**
 * Starts the stand-in: API server + kubelet, the RkvCluster CRD installed,
 * and two kubeconfigs: the tests' admin and the operator's service account,
 * which holds exactly the RBAC rules the operator ships with.
 */
export const NODE_MAIN = fileURLToPath(new URL('../../../node/src/cli/main.js', import.meta.url));
export const OPERATOR_MAIN = fileURLToPath(new URL('../../../operator/src/main.js', import.meta.url));
export const OPERATOR_NAMESPACE = 'rkv-system';

export interface StandIn {
  api: ApiServer;
  kubelet: Kubelet;
  root: string;
  /** kubeconfig file for the operator (its RBAC only) */
  operatorKubeconfig: string;
  /** the tests' client, with full access */
  admin: Kube;
  stop(): Promise<void>;
}

function kubeconfig(server: string, token: string): string {
  return stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'stand-in',
    // plain HTTP on loopback: client-node only allows http:// servers with TLS verification off
    clusters: [{ name: 'stand-in', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'u', namespace: 'default' } }],
  });
}

/** `monitoringApi`: serve prometheus-operator's ServiceMonitor and PrometheusRule, as where it is installed. */
export async function startStandIn(opts: { monitoringApi?: boolean } = {}): Promise<StandIn> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-standin-'));
  const api = new ApiServer({
    'admin-token': { name: 'admin', clusterRules: 'all' },
    'operator-token': { name: 'system:serviceaccount:rkv-system:rkv-operator', clusterRules: CLUSTER_RULES, roles: [{ namespace: OPERATOR_NAMESPACE, rules: LEADER_RULES }] },
  }, opts.monitoringApi ? MONITORING_TYPES : []);
  const url = await api.listen();
  const kubelet = new Kubelet({ store: api.store, nodeMain: NODE_MAIN, root, maxGraceMs: 10_000 });
  kubelet.start();
  const operatorKubeconfig = path.join(root, 'operator.kubeconfig');
  fs.writeFileSync(operatorKubeconfig, kubeconfig(url, 'operator-token'));
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig(url, 'admin-token'));
  const admin = new Kube(restClient(kc));
  await admin.create({ group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition' }, '', rkvClusterCRD());
  return {
    api, kubelet, root, operatorKubeconfig, admin,
    async stop() {
      await kubelet.stop();
      await api.close();
      if (!process.env.RKV_KEEP_STANDIN) fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
