/**
 * Imported first by every container-tier module, before testcontainers is
 * loaded (ES modules evaluate their imports in order): no Ryuk sidecar. There
 * is no registry to pull it from, and the tier removes its own containers,
 * networks and volumes (see cleanup in cluster.ts).
 */
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';

export {};
