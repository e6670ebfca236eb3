/**
 * The dashboard (`/ui`): a page and a script of our own (services/apiserver/ui/)
 * and Mermaid's browser bundle — vendored into ui/vendor/ by the build
 * (scripts/copy-ui.mjs), else from node_modules — so it works offline. What it
 * shows it reads from the API like any client (inspect.routes.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const UI_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

/** Read once, on first use (a server that never serves the page never reads it). */
function asset(load: () => string | Buffer): () => string | Buffer {
  let cached: string | Buffer | undefined;
  return () => (cached ??= load());
}

const page = asset(() => readFileSync(`${UI_DIR}index.html`, 'utf8'));
const script = asset(() => readFileSync(`${UI_DIR}app.js`, 'utf8'));
const mermaid = asset(() => {
  const vendored = `${UI_DIR}vendor/mermaid.min.js`;
  return readFileSync(existsSync(vendored) ? vendored : createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js'));
});

/** The page's own files: static, no cluster data in them, so served without credentials (the data routes want one). */
export const UI_PATHS = ['/ui', '/ui/app.js', '/ui/mermaid.min.js'];

export function registerUiRoutes(app: FastifyInstance): void {
  app.get('/ui', async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page()));
  app.get('/ui/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(script()));
  app.get('/ui/mermaid.min.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=86400').send(mermaid()));
}
