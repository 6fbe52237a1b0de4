#!/usr/bin/env node
// Thin launcher so `npx rkv-operator` / the package bin runs the compiled operator.
import '../dist/operator/src/main.js';
