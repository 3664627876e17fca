import { defineConfig } from 'vite';

// The dashboard is served by fleetdesk-server from its own binary: one page, hashed bundles
// under /assets/, nothing fetched from elsewhere.
export default defineConfig({
  base: '/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    target: 'es2022',
    sourcemap: false,
    // ECharts is loaded only by the views with charts (dynamic import), so the first load stays
    // small.
    chunkSizeWarningLimit: 700,
  },
});
