/**
 * Turns a container's volumeMounts into host folders to bind: an emptyDir is a
 * folder per pod under the runtime's data dir (so every container of the pod sees
 * the same files, and it goes away with the sandbox); a hostPath is the host path,
 * checked or created according to its `type` as the kubelet does.
 */
import { closeSync, mkdirSync, openSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, normalize, posix } from 'node:path';
import type { Container, Pod, Volume } from './pod-spec.js';
import { RuntimeError } from './types.js';

export type HostMount = { source: string; target: string; readOnly: boolean };

/** The pod's own folder under a runtime data dir. */
export function podDir(dataDir: string, podUid: string): string {
  return join(dataDir, 'pods', safeSegment(podUid));
}

export function emptyDirPath(dataDir: string, podUid: string, volume: string): string {
  return join(podDir(dataDir, podUid), 'volumes', 'empty-dir', safeSegment(volume));
}

/** Creates the pod's emptyDir folders (done with the sandbox, so they exist before any container). */
export function createEmptyDirs(dataDir: string, pod: Pod): void {
  for (const v of pod.spec.volumes ?? []) {
    if (v.emptyDir) mkdirSync(emptyDirPath(dataDir, pod.metadata.uid, v.name), { recursive: true });
  }
}

/**
 * The binds for one container, with their host folders made ready. Throws a
 * CreateContainerConfigError for a mount of an unknown or unsupported volume.
 */
export function resolveMounts(dataDir: string, pod: Pod, container: Container): HostMount[] {
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  return (container.volumeMounts ?? []).map((m) => {
    const volume = volumes.get(m.name);
    if (!volume) throw configError(container, `volumeMount "${m.name}" names no volume in spec.volumes`);
    if (!posix.isAbsolute(m.mountPath)) throw configError(container, `mountPath "${m.mountPath}" must be absolute`);
    const base = volumeSource(dataDir, pod, container, volume);
    let source = base.path;
    if (m.subPath) {
      const sub = normalize(m.subPath);
      if (isAbsolute(sub) || sub.split('/').includes('..')) {
        throw configError(container, `subPath "${m.subPath}" must be a relative path without ".."`);
      }
      source = join(base.path, sub);
      // Kubernetes creates a missing subPath as a folder.
      if (base.isDir) mkdirSync(source, { recursive: true });
    }
    return { source, target: m.mountPath, readOnly: m.readOnly === true };
  });
}

function volumeSource(dataDir: string, pod: Pod, container: Container, v: Volume): { path: string; isDir: boolean } {
  if (v.emptyDir) {
    if (v.emptyDir.medium === 'HugePages') throw configError(container, `emptyDir "${v.name}": medium HugePages is not supported`);
    // medium Memory is served from disk too: a tmpfs per container would not be shared.
    const path = emptyDirPath(dataDir, pod.metadata.uid, v.name);
    mkdirSync(path, { recursive: true });
    return { path, isDir: true };
  }
  if (v.hostPath) return hostPathSource(container, v.name, v.hostPath.path, v.hostPath.type ?? '');
  const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
  throw configError(container, `volume "${v.name}" of type ${kind} is not supported by this runtime (emptyDir and hostPath are)`);
}

function hostPathSource(container: Container, name: string, path: string, type: string): { path: string; isDir: boolean } {
  if (!isAbsolute(path)) throw configError(container, `hostPath "${name}": path "${path}" must be absolute`);
  const st = statOrUndefined(path);
  const fail = (what: string) => configError(container, `hostPath "${name}": ${path} ${what}`);
  switch (type) {
    case '':
    case 'DirectoryOrCreate':
      // The empty type checks nothing; like containerd, create a missing path as a folder.
      if (!st) mkdirSync(path, { recursive: true });
      return { path, isDir: st ? st.isDirectory() : true };
    case 'Directory':
      if (!st?.isDirectory()) throw fail('is not an existing directory');
      return { path, isDir: true };
    case 'FileOrCreate':
      if (!st) {
        mkdirSync(dirname(path), { recursive: true });
        closeSync(openSync(path, 'a'));
      }
      return { path, isDir: false };
    case 'File':
      if (!st?.isFile()) throw fail('is not an existing file');
      return { path, isDir: false };
    case 'Socket':
      if (!st?.isSocket()) throw fail('is not a socket');
      return { path, isDir: false };
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw fail('is not a character device');
      return { path, isDir: false };
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw fail('is not a block device');
      return { path, isDir: false };
    default:
      throw fail(`has an unknown hostPath type "${type}"`);
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function configError(container: Container, message: string): RuntimeError {
  return new RuntimeError('CreateContainerConfigError', `container "${container.name}": ${message}`);
}

/** A uid or volume name as one path segment (they are DNS labels or UUIDs already; this is a guard). */
function safeSegment(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]/g, '_');
  return /^\.*$/.test(t) ? `_${t}` : t;
}
