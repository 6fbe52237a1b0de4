/**
 * Process-wide settings that must be in place before any other module loads.
 * msgpackr's optional native string extractor (msgpackr-extract) is turned
 * off: the pure JavaScript decoder is what the tests exercise everywhere, and
 * a native addon in the node-to-node path is a crash risk a peer could reach.
 */
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true';

export {};
