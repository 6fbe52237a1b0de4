#!/usr/bin/env node
// Thin launcher so `npx rkv` / the package bin runs the compiled CLI.
import '../dist/node/src/cli/main.js';
