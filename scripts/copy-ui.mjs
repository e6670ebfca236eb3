#!/usr/bin/env node
// Part of `npm run compile`: the dashboard's files next to the compiled API
// server (dist/services/apiserver/ui/), with Mermaid's browser bundle vendored
// into ui/vendor/, so a build (and the keelson image) serves /ui without
// node_modules/mermaid (a development dependency, 100+ MB with its own).
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'services', 'apiserver', 'ui');
cpSync(join(root, 'services', 'apiserver', 'ui'), out, { recursive: true });
mkdirSync(join(out, 'vendor'), { recursive: true });
cpSync(createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js'), join(out, 'vendor', 'mermaid.min.js'));
