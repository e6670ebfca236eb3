/**
 * Pod spec → Docker create options, and Docker inspect data → ManagedContainer,
 * as pure functions (no engine needed to test them). The sandbox owns the pod's network (and IPC) namespace and publishes its
 * hostPorts; app containers join it with `NetworkMode: container:<sandbox>`.
 */
import type Docker from 'dockerode';
import { toBytes, toMilli, tryParseQuantity } from '../../lib/quantity/index.js';
import { identityLabels, Labels, nodeLabels, SANDBOX_CONTAINER } from './labels.js';
import { normalizeImage, type Container, type ContainerPort, type Pod } from './pod-spec.js';
import { RuntimeError, type ManagedContainer } from './types.js';
import type { HostMount } from './volumes.js';

/**
 * The sandbox's process: sleeps until told to stop. A shell that traps TERM, so a
 * graceful stop does not have to wait for SIGKILL (PID 1 ignores unhandled signals).
 */
export const SANDBOX_COMMAND = ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 86400 & wait $!; done'];

export type SandboxSpecInput = {
  image: string;
  network: string;
  name: string;
  attempt: number;
  /** The node whose runtime creates it (label `io.keelson.node`); none for an unscoped runtime. */
  node?: string;
};

export function sandboxCreateOptions(pod: Pod, input: SandboxSpecInput): Docker.ContainerCreateOptions {
  const ports = podPorts(pod);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) {
    const key = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`;
    exposed[key] = {};
    if (p.hostPort) (bindings[key] ??= []).push({ HostIp: p.hostIP ?? '', HostPort: String(p.hostPort) });
  }
  return {
    name: input.name,
    Image: input.image,
    Cmd: SANDBOX_COMMAND,
    Entrypoint: [],
    Hostname: hostnameOf(pod),
    Labels: {
      ...identityLabels(pod, SANDBOX_CONTAINER),
      ...nodeLabels(input.node),
      [Labels.kind]: 'sandbox',
      [Labels.attempt]: String(input.attempt),
    },
    ExposedPorts: exposed,
    HostConfig: {
      NetworkMode: input.network,
      PortBindings: bindings,
      IpcMode: 'shareable',
      RestartPolicy: { Name: 'no' },
    },
  };
}

export type ContainerSpecInput = {
  name: string;
  attempt: number;
  sandboxId: string;
  mounts: HostMount[];
  /** The node whose runtime creates it (label `io.keelson.node`); none for an unscoped runtime. */
  node?: string;
  /** Told about spec fields the runtime skips (env valueFrom). */
  note?: (message: string) => void;
};

export function containerCreateOptions(pod: Pod, c: Container, input: ContainerSpecInput): Docker.ContainerCreateOptions {
  if (!c.image) throw new RuntimeError('CreateContainerConfigError', `container "${c.name}" has no image`);
  const joined = `container:${input.sandboxId}`;
  const opts: Docker.ContainerCreateOptions = {
    name: input.name,
    Image: normalizeImage(c.image),
    Env: envList(c, input.note),
    Labels: {
      ...identityLabels(pod, c.name),
      ...nodeLabels(input.node),
      [Labels.kind]: 'container',
      [Labels.attempt]: String(input.attempt),
      [Labels.sandboxId]: input.sandboxId,
      ...(c.ports?.length ? { [Labels.ports]: JSON.stringify(c.ports) } : {}),
    },
    Tty: c.tty === true,
    OpenStdin: c.stdin === true,
    StdinOnce: c.stdinOnce === true,
    HostConfig: {
      NetworkMode: joined,
      IpcMode: joined,
      Mounts: input.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
      RestartPolicy: { Name: 'no' },
      ...resourceLimits(c),
    },
  };
  // Kubernetes: command replaces ENTRYPOINT (and with it the image's CMD), args replace CMD.
  // Docker does the same: a given Entrypoint drops the image's Cmd.
  if (c.command?.length) opts.Entrypoint = c.command;
  if (c.args?.length) opts.Cmd = c.args;
  if (c.workingDir) opts.WorkingDir = c.workingDir;
  return opts;
}

/** `NAME=value` for each variable with a literal value; valueFrom is the kubelet's to resolve. */
export function envList(c: Container, note?: (message: string) => void): string[] {
  const out: string[] = [];
  for (const e of c.env ?? []) {
    if (e.valueFrom !== undefined && e.value === undefined) {
      note?.(`container "${c.name}": env ${e.name} uses valueFrom, which the runtime does not resolve; skipped`);
      continue;
    }
    out.push(`${e.name}=${e.value ?? ''}`);
  }
  return out;
}

/** limits.memory → Memory (bytes), limits.cpu → NanoCpus, requests.cpu → CpuShares (as the kubelet does). */
export function resourceLimits(c: Container): { Memory?: number; NanoCpus?: number; CpuShares?: number } {
  const out: { Memory?: number; NanoCpus?: number; CpuShares?: number } = {};
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  const memory = quantity(c, 'limits.memory', limits.memory);
  if (memory) out.Memory = toBytes(memory);
  const cpu = quantity(c, 'limits.cpu', limits.cpu);
  if (cpu) out.NanoCpus = toMilli(cpu) * 1_000_000;
  const cpuRequest = quantity(c, 'requests.cpu', requests.cpu ?? limits.cpu);
  if (cpuRequest) out.CpuShares = Math.max(2, Math.floor((toMilli(cpuRequest) * 1024) / 1000));
  return out;
}

function quantity(c: Container, field: string, v: string | number | undefined) {
  if (v === undefined) return undefined;
  const q = tryParseQuantity(v);
  if (!q) throw new RuntimeError('CreateContainerConfigError', `container "${c.name}": resources.${field} "${v}" is not a quantity`);
  return q.mantissa > 0n ? q : undefined;
}

/** Every port of every container: the sandbox exposes them all and publishes the hostPorts. */
export function podPorts(pod: Pod): ContainerPort[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].flatMap((c) => c.ports ?? []);
}

/** spec.hostname, else the pod name cut to a DNS label (63 characters), as Kubernetes does. */
export function hostnameOf(pod: Pod): string {
  const name = pod.spec.hostname ?? pod.metadata.name;
  return name.length > 63 ? name.slice(0, 63).replace(/[-.]+$/, '') : name;
}

/** The engine's "never" time. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** What a restarted kubelet needs to know about a managed container, from `docker inspect`. */
export function toManaged(info: Docker.ContainerInspectInfo, network: string): ManagedContainer {
  const labels = info.Config.Labels;
  const sandbox = labels[Labels.kind] === 'sandbox';
  const status = info.State.Status;
  const state = status === 'created' ? 'created' : ['exited', 'dead', 'removing'].includes(status) ? 'exited' : 'running';
  const exited = state === 'exited';
  const time = (t: string | undefined) => (t && t !== ZERO_TIME ? t : undefined);
  const out: ManagedContainer = {
    id: info.Id,
    kind: sandbox ? 'sandbox' : 'container',
    podUid: labels[Labels.podUid]!,
    podName: labels[Labels.podName]!,
    namespace: labels[Labels.namespace]!,
    container: labels[Labels.container]!,
    attempt: Number(labels[Labels.attempt] ?? 0),
    state,
    image: info.Config.Image,
    imageID: info.Image,
  };
  const created = time(info.Created);
  const started = time(info.State.StartedAt);
  const finished = exited ? time(info.State.FinishedAt) : undefined;
  if (created) out.createdAt = created;
  if (started) out.startedAt = started;
  if (finished) out.finishedAt = finished;
  if (exited) {
    out.exitCode = info.State.ExitCode;
    out.reason = info.State.OOMKilled ? 'OOMKilled' : info.State.ExitCode === 0 ? 'Completed' : 'Error';
  }
  if (sandbox) out.ip = info.NetworkSettings.Networks[network]?.IPAddress ?? '';
  else if (labels[Labels.sandboxId]) out.sandboxId = labels[Labels.sandboxId];
  return out;
}
