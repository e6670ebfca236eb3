/**
 * dockerode, loaded without the two transports the kubelet never uses: BuildKit
 * sessions (dockerode's `session.js` pulls in @grpc/grpc-js and proto-loader) and
 * SSH engines (docker-modem's `ssh.js` pulls in ssh2). Together they cost a node
 * agent ~12 MB of RSS and ~17 MB of external memory at import, for code that
 * never runs: Keelson talks to its engine over the local socket and never builds
 * images. Their modules are put in the require cache as stubs that throw if
 * called, before dockerode is required, so dockerode's own code is unchanged.
 * If something imported dockerode first, the real modules are kept.
 */
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';

type CjsModule = { filename: string; loaded: boolean; exports: unknown };
type ModuleCtor = new (id: string) => CjsModule;

const require = createRequire(import.meta.url);
const fromDockerode = createRequire(require.resolve('dockerode'));

function stub(resolve: NodeRequire, id: string, what: string): void {
  const file = resolve.resolve(id);
  if (require.cache[file]) return;
  const Module = require('node:module') as ModuleCtor;
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  m.exports = () => {
    throw new Error(`${what} is not available in Keelson's Docker runtime (not loaded, to save memory)`);
  };
  require.cache[file] = m as NodeJS.Module;
}

stub(fromDockerode, './session.js', 'dockerode BuildKit sessions');
stub(createRequire(fromDockerode.resolve('docker-modem')), './ssh.js', 'Docker over SSH');

/** The dockerode constructor. */
export const Docker = require('dockerode') as typeof Dockerode;
