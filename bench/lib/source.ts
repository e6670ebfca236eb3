/**
 * Which code a benchmark measures, and a build of it. By default the working
 * tree; with a git ref, a clean export of that commit (for when the working
 * tree is being edited and does not build, or to compare two commits). Either
 * way `build()` compiles it with tsc into a temporary folder, so that children
 * never run a stale dist/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { findNatsServer } from '../../services/lib/nats-server/index.js';
import { compileProject } from './apiserver.js';

export type Source = {
  /** The folder holding services/, bench/, node_modules. */
  root: string;
  /** For the result notes: "commit abc123 + uncommitted changes in 7 files ...". */
  description: string;
};

/**
 * The working tree at `root`, or an export of `ref` into `dir` (protos
 * generated, node_modules linked, this checkout's bench/ copied over its own).
 */
export function prepareSource(root: string, ref: string | undefined, dir: string): Source {
  if (!ref) return { root, description: codeVersion(root) };
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim();
  const out = join(dir, 'source');
  mkdirSync(out, { recursive: true });
  const archive = spawnSync('git', ['archive', commit], { cwd: root, maxBuffer: 512 * 1024 * 1024 });
  if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr.toString()}`);
  const untar = spawnSync('tar', ['-x', '-C', out], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.toString()}`);
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
  // The harness is this checkout's (its child scripts import the ref's services/ relatively).
  cpSync(join(root, 'bench'), join(out, 'bench'), { recursive: true, filter: (src) => !src.includes(`${join(root, 'bench', 'results')}`) });
  const gen = spawnSync(process.execPath, ['scripts/gen-protos.mjs'], { cwd: out, encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`gen-protos in the export of ${ref} failed: ${gen.stderr}`);
  return { root: out, description: `commit ${commit} (--ref ${ref}: a clean export of it; only bench/ from the working tree)` };
}

/** Compiles the source into `outDir`; returns the build's root (its bench/lib/*.js and services/cli/main.js). */
export function build(source: Source, outDir: string): { root: string; cliMain: string } {
  const cliMain = compileProject(source.root, outDir);
  return { root: outDir, cliMain };
}

/** The commit, and whether the code under services/, statecharts/, protos/ has uncommitted changes. */
export function codeVersion(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'services', 'statecharts', 'protos'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean).length;
    return dirty ? `commit ${head} + uncommitted changes in ${dirty} files under services/, statecharts/, protos/` : `commit ${head}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function natsVersion(): string {
  try {
    return execFileSync(findNatsServer() ?? 'nats-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'nats-server (version unknown)';
  }
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, ${natsVersion()}`;
}
