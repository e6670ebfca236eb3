/**
 * The kubelet's container runtimes behind one interface (see types.ts):
 * `docker` (the real one), `process` (child processes, no Docker needed) and
 * `fake` (hollow nodes for scale tests). `createRuntime` picks one by name, or
 * `auto`: docker when an engine answers, else process (what `keelson up` does).
 */
import { DockerRuntime, type DockerRuntimeOptions } from './docker.runtime.js';
import { FakeRuntime, type FakeRuntimeOptions } from './fake.runtime.js';
import { ProcessRuntime } from './process.runtime.js';
import { isRuntimeError, type ContainerRuntime, type RuntimeName } from './types.js';

export * from './types.js';
export * from './pod-spec.js';
export { Labels, IDENTITY_LABELS, SANDBOX_CONTAINER, isManaged, isOwned, runtimeName } from './labels.js';
export { DockerRuntime, type DockerRuntimeOptions } from './docker.runtime.js';
export { ProcessRuntime, type ProcessRuntimeOptions } from './process.runtime.js';
export { FakeRuntime, type FakeRuntimeOptions } from './fake.runtime.js';

export type CreateRuntimeOptions = {
  kind: RuntimeName | 'auto';
  /**
   * The node the runtime serves. Docker labels its containers with it and sees only
   * those (kubelets can share one engine); `process` is scoped by its own `dataDir`
   * instead, and each `fake` runtime by its instance.
   */
  nodeName: string;
  /** The runtime's data dir (per-pod folders, process logs and state), one per node. Not used by `fake`. */
  dataDir: string;
  docker?: Omit<DockerRuntimeOptions, 'dataDir' | 'log' | 'nodeName'>;
  fake?: FakeRuntimeOptions;
  log?: (message: string) => void;
};

export async function createRuntime(options: CreateRuntimeOptions): Promise<ContainerRuntime> {
  const { kind, dataDir, nodeName, log } = options;
  const withLog = log ? { log } : {};
  switch (kind) {
    case 'docker':
      return DockerRuntime.connect({ ...options.docker, dataDir, nodeName, ...withLog });
    case 'process':
      return ProcessRuntime.open({ dataDir, ...withLog });
    case 'fake':
      return new FakeRuntime(options.fake);
    case 'auto':
      try {
        return await DockerRuntime.connect({ ...options.docker, dataDir, nodeName, ...withLog });
      } catch (err) {
        if (!isRuntimeError(err, 'RuntimeUnavailable')) throw err;
        log?.(`no Docker engine (${err.message}); using the process runtime`);
        return ProcessRuntime.open({ dataDir, ...withLog });
      }
  }
}

/** True when a Docker engine answers on the socket (or DOCKER_HOST). */
export async function dockerAvailable(socketPath?: string): Promise<boolean> {
  try {
    const rt = await DockerRuntime.connect({ dataDir: '.', ...(socketPath ? { socketPath } : {}) });
    await rt.close();
    return true;
  } catch {
    return false;
  }
}
