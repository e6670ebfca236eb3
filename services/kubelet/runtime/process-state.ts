/**
 * What the process runtime remembers about its containers, in memory and in a
 * small JSON file under its data dir, so that a restarted kubelet finds the
 * processes the previous one started (by PID and start time) and their logs.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedContainer } from './types.js';

/** One container or sandbox, as persisted: what every runtime reports, plus how to find the process again. */
export type ProcessRecord = ManagedContainer & {
  createdAt: string;
  /** The command line: the spec's command followed by its args. */
  command: string[];
  env: Record<string, string>;
  workingDir: string;
  pid?: number;
  /** /proc start time of `pid`: tells the process apart from a later one with the same PID. */
  pidStart?: string;
};

type StateFile = { version: 1; records: ProcessRecord[] };

export class ProcessStateStore {
  private readonly path: string;

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
    this.path = join(root, 'state.json');
  }

  load(): ProcessRecord[] {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as StateFile;
      return parsed.version === 1 && Array.isArray(parsed.records) ? parsed.records : [];
    } catch {
      return [];
    }
  }

  /** Writes the whole state atomically (a crash leaves the old file or the new one). */
  save(records: Iterable<ProcessRecord>): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, records: [...records] } satisfies StateFile));
    renameSync(tmp, this.path);
  }

  containerDir(id: string): string {
    return join(this.root, 'containers', id);
  }
}

export function toManaged(r: ProcessRecord): ManagedContainer {
  const out: ManagedContainer = {
    id: r.id,
    kind: r.kind,
    podUid: r.podUid,
    podName: r.podName,
    namespace: r.namespace,
    container: r.container,
    attempt: r.attempt,
    state: r.state,
    image: r.image,
    imageID: r.imageID,
    createdAt: r.createdAt,
  };
  for (const k of ['exitCode', 'reason', 'startedAt', 'finishedAt', 'ip', 'sandboxId'] as const) {
    if (r[k] !== undefined) (out as Record<string, unknown>)[k] = r[k];
  }
  return out;
}
