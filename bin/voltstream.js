#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx's require hook: no build step between a clone and a run.
require('tsx/cjs');
require('../services/cli/main.ts');
