import type { CustomResourceDefinition } from 'kubernetes-types/apiextensions/v1.js';
import { GROUP, KIND, PLURAL, VERSION, specSchema, statusSchema } from './spec.js';

/** The RkvCluster CustomResourceDefinition (apiextensions.k8s.io/v1), built from the schema in spec.ts. */
export function rkvClusterCRD(): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'rkv', 'app.kubernetes.io/component': 'crd' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: KIND.toLowerCase(), shortNames: ['rkv'], categories: ['all'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Desired nodes' },
            { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready pods' },
            { name: 'Ring', type: 'integer', jsonPath: '.status.ring.size', description: 'Partitions' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'An rkv cluster: a StatefulSet of storage nodes whose membership the operator drives.',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema as never,
                status: statusSchema as never,
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}
