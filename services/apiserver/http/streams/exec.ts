/**
 * `.../pods/{name}/exec` over WebSocket, as kubectl 1.30+ speaks it
 * (`v5.channel.k8s.io`, or `v4`): every binary message is a channel byte and
 * a payload. Before the upgrade the pod, container and command are checked, so
 * those mistakes are plain HTTP Status errors; after it, the API server
 * relays frames between the client and the pod's kubelet over NATS unchanged,
 * and a kubelet's failure arrives as a Status on the error channel, as with
 * Kubernetes. kubectl's older SPDY protocol is answered with a clear error.
 */
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { ApiError, errors, toApiError } from '../../../lib/errors/index.js';
import { Channel, EXEC_PING_MS, EXEC_SILENCE_MS, frame, INPUT_HEADER, inputSubject, type ExecParams } from '../../../lib/kubelet-api/index.js';
import { openKubeletStream, podContainer, podNode, statusOf, type KubeletStream, type PodShape } from './kubelet.js';

/** The subprotocols Keelson's exec speaks, most preferred first. */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

/** The one to answer with among those a client offers (ws' `handleProtocols`). */
export function chooseExecProtocol(offered: Set<string>): string | false {
  return EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false;
}

type Query = Record<string, string | string[] | undefined>;

/** An exec the API server has checked and will relay once the socket is open. */
export type ExecRequest = { node: string; namespace: string; pod: string; params: ExecParams };

/** Checks what `kubectl exec` asks for against the pod; throws the Status a bad request gets. */
export function checkExec(pod: PodShape, query: Query): ExecRequest {
  const meta = pod.metadata!;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') {
    throw errors.badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
  }
  const one = (k: string) => {
    const v = query[k];
    return Array.isArray(v) ? v[v.length - 1] : v;
  };
  const raw = query.command;
  const command = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (command.length === 0) throw errors.badRequest('you must specify at least one command for the container');
  const flag = (k: string, fallback: boolean) => {
    const v = one(k);
    return v === undefined ? fallback : v === 'true' || v === '1';
  };
  const params: ExecParams = {
    container: podContainer(pod, one('container')),
    command: JSON.stringify(command),
    stdin: String(flag('stdin', false)),
    stdout: String(flag('stdout', true)),
    stderr: String(flag('stderr', true)),
    tty: String(flag('tty', false)),
  };
  if (params.stdin === 'false' && params.stdout === 'false' && params.stderr === 'false') {
    throw errors.badRequest('you must specify at least 1 of stdin, stdout, stderr');
  }
  return { node: podNode(pod), namespace: meta.namespace ?? 'default', pod: meta.name!, params };
}

/** Refuses an upgrade that offers none of EXEC_PROTOCOLS, before it happens. */
export function checkExecProtocol(req: FastifyRequest): void {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!chooseExecProtocol(new Set(offered))) {
    throw errors.badRequest(`exec speaks the WebSocket subprotocols ${EXEC_PROTOCOLS.join(', ')}; the client offered ${offered.join(', ') || 'none'}`);
  }
}

/** kubectl 1.29 and older (SPDY/3.1): a Status that says what to use instead. */
export function spdyRefused(): ApiError {
  return errors.badRequest(
    `Keelson serves exec over WebSocket (${EXEC_PROTOCOLS.join(', ')}); SPDY/3.1 is not supported: use kubectl 1.30 or newer`,
  );
}

/**
 * Relays one exec between an open client socket and the pod's kubelet until
 * either side ends it; never outlives the socket, nor a kubelet that has gone
 * quiet for EXEC_SILENCE_MS.
 */
export function relayExec(nc: NatsConnection, socket: WebSocket, exec: ExecRequest): void {
  let stream: KubeletStream | undefined;
  let input: string | undefined;
  let ended = false;
  let lastHeard = Date.now();
  /** Client frames that arrive before the kubelet said where they go. */
  const early: Buffer[] = [];

  const end = (status?: ApiError) => {
    if (ended) return;
    ended = true;
    clearInterval(watchdog);
    stream?.cancel();
    if (status && socket.readyState === socket.OPEN) socket.send(frame(Channel.ERROR, Buffer.from(JSON.stringify(status.toStatus()))));
    socket.close(1000);
  };
  const fromKubelet = (m: Msg) => {
    lastHeard = Date.now();
    const failure = statusOf(m);
    if (failure) return end(failure);
    if (m.data.length === 0) return end();
    if (m.data[0] !== Channel.PING && socket.readyState === socket.OPEN) socket.send(m.data);
  };
  const watchdog = setInterval(() => {
    if (Date.now() - lastHeard > EXEC_SILENCE_MS) end(new ApiError('ServiceUnavailable', `the kubelet of node "${exec.node}" stopped answering`));
  }, EXEC_PING_MS);
  watchdog.unref();

  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    if (input) nc.publish(input, data);
    else early.push(data);
  });
  socket.on('close', () => end());
  socket.on('error', () => end());

  const request = { verb: 'create', resource: 'pods', version: 'v1', namespace: exec.namespace, name: exec.pod, subresource: 'exec', params: exec.params };
  openKubeletStream(nc, exec.node, 'exec', request, fromKubelet).then(
    (s) => {
      stream = s;
      if (ended) return s.cancel();
      lastHeard = Date.now();
      // Input goes only where the protocol puts it, under the node's own subjects: never to a subject a kubelet names.
      if (s.start.headers?.get(INPUT_HEADER) !== inputSubject(s.inbox)) {
        return end(errors.internal(`the kubelet of node "${exec.node}" did not take input where the API server sends it`));
      }
      input = inputSubject(s.inbox);
      for (const f of early.splice(0)) nc.publish(input, f);
    },
    (e: unknown) => end(toApiError(e)),
  );
}
