// Builds the renderer (renderer/ → dist/renderer/) with relative asset paths, so the same files
// serve browser mode over HTTP and Electron from disk. No inline scripts or styles: the CSP forbids them.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  plugins: [
    svelte({ configFile: fileURLToPath(new URL('./renderer/svelte.config.js', import.meta.url)) }),
  ],
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    // Data URLs would need a looser CSP; the polyfill is an inline script in some setups.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
