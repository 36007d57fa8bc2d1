#!/usr/bin/env node
// The `conclave` command: loads main/cli.ts through tsx's ESM hooks, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { runAsProcess } = await import('../main/cli.ts');
await runAsProcess();
