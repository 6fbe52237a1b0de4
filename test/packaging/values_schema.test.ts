import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { helm, templateArgs } from './helpers.js';

/**
 * Bad values never reach the cluster: values.schema.json (and, for the
 * CRD's cross-field rules, the templates) make `helm template` / `helm install`
 * fail with a message naming the value.
 */
const BAD: { name: string; values: object; message: RegExp }[] = [
  { name: 'a misspelt top-level key', values: { operatr: {} }, message: /additional properties 'operatr' not allowed/ },
  { name: 'a misspelt nested key', values: { operator: { resource: {} } }, message: /at '\/operator': additional properties 'resource' not allowed/ },
  { name: 'negative operator replicas', values: { operator: { replicas: -1 } }, message: /at '\/operator\/replicas': minimum: got -1, want 0/ },
  { name: 'an unknown pull policy', values: { operator: { image: { pullPolicy: 'Sometimes' } } }, message: /at '\/operator\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/ },
  { name: 'an unknown log level', values: { operator: { logLevel: 'verbose' } }, message: /at '\/operator\/logLevel': value must be one of/ },
  { name: 'a port out of range', values: { operator: { metricsPort: 70000 } }, message: /at '\/operator\/metricsPort': maximum: got 70,000, want 65,535/ },
  { name: 'a resource quantity that is not one', values: { operator: { resources: { limits: { memory: 'lots' } } } }, message: /at '\/operator\/resources\/limits\/memory'/ },
  { name: 'a namespace that is no DNS label', values: { operator: { watchNamespace: 'Data_NS' } }, message: /at '\/operator\/watchNamespace'/ },
  { name: 'a string where a boolean goes', values: { rbac: { create: 'yes' } }, message: /at '\/rbac\/create': got string, want boolean/ },
  { name: 'a cluster name that is no DNS label', values: { cluster: { enabled: true, name: 'My Cluster' } }, message: /at '\/cluster\/name'/ },
  { name: 'a ring size that is no power of two', values: { cluster: { enabled: true, spec: { ring: { size: 100 } } } }, message: /at '\/cluster\/spec\/ring\/size': value must be one of 8, 16, 32, 64, 128, 256, 512, 1024/ },
  { name: 'an unknown backend', values: { cluster: { enabled: true, spec: { backend: 'leveldb' } } }, message: /at '\/cluster\/spec\/backend': value must be one of 'rocksdb', 'memory'/ },
  { name: 'an unknown RkvCluster spec field', values: { cluster: { enabled: true, spec: { replica: 3 } } }, message: /at '\/cluster\/spec': additional properties 'replica' not allowed/ },
  { name: 'a storage size that is no quantity', values: { cluster: { enabled: true, spec: { storage: { size: 'ten gigs' } } } }, message: /at '\/cluster\/spec\/storage\/size'/ },
  { name: 'nVal out of range', values: { cluster: { enabled: true, spec: { nVal: 0 } } }, message: /at '\/cluster\/spec\/nVal': minimum: got 0, want 1/ },
  { name: 'a scrape interval that is no duration', values: { monitoring: { serviceMonitor: { interval: 'often' } } }, message: /at '\/monitoring\/serviceMonitor\/interval'/ },
  { name: 'an alert selector that is no label matcher', values: { monitoring: { prometheusRule: { selector: 'job=rkv' } } }, message: /at '\/monitoring\/prometheusRule\/selector'/ },
  { name: 'a ratio above 1', values: { monitoring: { prometheusRule: { diskFreeRatio: 15 } } }, message: /at '\/monitoring\/prometheusRule\/diskFreeRatio': maximum: got 15, want 1/ },
  // the CRD's CEL rules, checked by the template
  { name: 'fewer replicas than nVal', values: { cluster: { enabled: true, spec: { replicas: 2, nVal: 3 } } }, message: /cluster\.spec\.replicas \(2\) must be at least cluster\.spec\.nVal \(3\)/ },
  { name: 'a read quorum above nVal', values: { cluster: { enabled: true, spec: { quorum: { r: 4 } } } }, message: /cluster\.spec\.quorum\.r \(4\) cannot exceed cluster\.spec\.nVal \(3\)/ },
  { name: 'a write quorum above nVal', values: { cluster: { enabled: true, spec: { nVal: 2, quorum: { w: 3 } } } }, message: /cluster\.spec\.quorum\.w \(3\) cannot exceed cluster\.spec\.nVal \(2\)/ },
  { name: 'two operators without leader election', values: { operator: { replicas: 2, leaderElection: false } }, message: /operator\.replicas is 2 but operator\.leaderElection is off/ },
];

describe('values.schema.json and template checks reject bad values', () => {
  for (const bad of BAD) {
    it(bad.name, async () => {
      const r = await helm(templateArgs({ values: bad.values }));
      assert.notEqual(r.status, 0, `helm template accepted ${JSON.stringify(bad.values)}`);
      assert.match(r.stderr, bad.message);
    });
  }

  it('accepts good values at the edges', async () => {
    const good = [
      { cluster: { enabled: true, spec: { replicas: 1, nVal: 1, ring: { size: 8 }, backend: 'memory' } } },
      { cluster: { enabled: true, spec: { replicas: 1000, nVal: 16, ring: { size: 1024 }, quorum: { r: 16, w: 1 }, storage: { size: '1.5Ti' } } } },
      { operator: { replicas: 0, metricsPort: 1, resources: { requests: { cpu: 0.5, memory: '1e3' } } } },
      { monitoring: { prometheusRule: { selector: 'job=~"rkv|rkv-staging", namespace!="test"', diskFreeRatio: 1, quorumFailureRatio: 0.001 } } },
    ];
    for (const values of good) {
      const r = await helm(templateArgs({ values }));
      assert.equal(r.status, 0, `${JSON.stringify(values)}:\n${r.stderr}`);
    }
  });
});
