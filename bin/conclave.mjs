#!/usr/bin/env node
// The `conclave` command. Runs the bundle `npm run build:node` makes (dist/node/conclave.mjs) when
// it is newer than every source file; otherwise loads main/cli.ts through tsx, so a checkout works
// without a build step (only slower to start: about four times).
import { bundleIsFresh } from './sources.mjs';

let cli;
if (bundleIsFresh()) {
  cli = await import('../dist/node/conclave.mjs');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../main/cli.ts');
}
await cli.runAsProcess();
