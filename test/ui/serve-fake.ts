// `npm run ui:demo`: the built renderer in browser mode over the in-memory fake node (seeded with
// groups and requests), for looking at and working on the UI without running custodian nodes.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrowserMode } from '../../main/server/http.js';
import { createFakeNode } from './fake-api.js';

const node = createFakeNode({ seed: true, delayMs: 1500 });
const port = Number(process.env.PORT ?? 0);
const staticDir = resolve(fileURLToPath(new URL('../../dist/renderer', import.meta.url)));
const ui = await startBrowserMode(
  { api: node, onEvent: (cb) => node.onEvent(cb) },
  { port, staticDir },
);
console.log(`UI: ${ui.url}`);
console.log('A fake node with made-up groups and requests; Ctrl-C stops it.');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    node.dispose();
    void ui.close().then(() => process.exit(0));
  });
}
