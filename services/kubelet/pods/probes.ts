/**
 * Container probes as Kubernetes runs them: exec (exit code 0), httpGet
 * (status 200–399) and tcpSocket (connects), every `periodSeconds` after
 * `initialDelaySeconds`, each attempt bounded by `timeoutSeconds`; a result
 * flips only after `successThreshold` / `failureThreshold` attempts in a row.
 */
import { connect } from 'node:net';
import type { ContainerRuntime } from '../runtime/index.js';
import { fetchText } from '../../lib/fetch/index.js';

export type Probe = {
  exec?: { command?: string[] };
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number | string; host?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
};

export type ProbeTarget = {
  runtime: ContainerRuntime;
  containerId: string;
  podIP: string;
  /** Named ports of the container, for `port: "http"`. */
  ports: { name?: string; containerPort: number }[];
};

/** One attempt: true when the probe passed. */
export async function probeOnce(probe: Probe, t: ProbeTarget): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  const port = (p: number | string) => (typeof p === 'number' ? p : (t.ports.find((x) => x.name === p)?.containerPort ?? Number(p)));
  try {
    if (probe.exec) {
      const session = await t.runtime.exec(t.containerId, probe.exec.command ?? []);
      session.stdout.resume();
      session.stderr.resume();
      return (await withTimeout(session.exitCode, timeoutMs)) === 0;
    }
    if (probe.httpGet) {
      const g = probe.httpGet;
      const url = `${(g.scheme ?? 'HTTP').toLowerCase()}://${g.host ?? t.podIP}:${port(g.port)}${g.path ?? '/'}`;
      // Bounded as a whole, body included (a probe that never settles would stop probing).
      const res = await fetchText(url, { headers: Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value])), redirect: 'manual' }, timeoutMs);
      return res.status >= 200 && res.status < 400;
    }
    if (probe.tcpSocket) {
      const host = probe.tcpSocket.host ?? t.podIP;
      const p = port(probe.tcpSocket.port);
      return await withTimeout(
        new Promise<boolean>((resolve) => {
          const s = connect(p, host, () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
        timeoutMs,
      );
    }
  } catch {
    return false;
  }
  return false;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('probe timed out')), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * Runs one probe for one container instance until stopped; `onResult` hears
 * each settled change (true = passing). Readiness starts failing, liveness
 * passing, as in Kubernetes; a startup probe starts unknown (`initial`
 * undefined), so its first settled result is heard whichever it is.
 */
export function runProbe(probe: Probe, target: ProbeTarget, initial: boolean | undefined, onResult: (ok: boolean) => void): () => void {
  let stopped = false;
  let state = initial;
  /** How many results in a row were `streakOf`. */
  let streak = 0;
  let streakOf: boolean | undefined;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    if (stopped) return;
    const ok = await probeOnce(probe, target);
    if (stopped) return;
    streak = ok === streakOf ? streak + 1 : 1;
    streakOf = ok;
    if (ok !== state && streak >= (ok ? (probe.successThreshold ?? 1) : (probe.failureThreshold ?? 3))) {
      state = ok;
      onResult(ok);
    }
    timer = setTimeout(tick, (probe.periodSeconds ?? 10) * 1000);
  };
  timer = setTimeout(tick, (probe.initialDelaySeconds ?? 0) * 1000);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
