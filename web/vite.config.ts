/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { precompress } from './precompress';

// The server serves index.html under any mount prefix and rewrites its <base href>,
// so every asset URL must be relative ('./') and resolved against that base.
const apiTarget = process.env.FLOWYML_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: './',
  plugins: [react(), precompress()],
  build: {
    outDir: '../flowyml/server/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { '/api': { target: apiTarget, changeOrigin: false } },
  },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
  },
});
