/**
 * How the API server reaches a kubelet: NATS subjects per node, the request
 * (a keelson.api.v1.ApiRequest naming the pod, container and options in
 * `params`), and the stream that answers it on the requester's inbox: a start
 * message, then data, then an empty message at the end (an error: a Status in a
 * header instead).
 *
 * `logs` streams raw chunks. `exec` is two-way: its data messages are frames of
 * Kubernetes' websocket channel protocol (one channel byte, then the payload), so
 * the API server relays them between kubectl and the kubelet unchanged; the
 * start message names the kubelet's subject for the requester's frames.
 */
import { nuid } from '@nats-io/nats-core';
import { subjectToken } from '../nats-auth/subject-token.js';

export const kubeletSubject = (node: string, what: 'logs' | 'exec') => `${kubeletSubjects(node)}.${what}`;

/**
 * Every subject of one node's streams: requests, answers, cancels and exec
 * input all stay under it, so a node's NATS credentials can be limited to its
 * own (lib/nats-auth) and no node can serve or read another's.
 */
export const kubeletSubjects = (node: string) => `keelson.kubelet.${subjectToken(node)}`;

/** Where the requester takes a node's answer (the request's reply subject). */
export const kubeletInbox = (node: string) => `${kubeletSubjects(node)}.reply.${nuid.next()}`;

/** Whether `reply` is one of kubeletInbox(node)'s: a kubelet answers nowhere else. */
export const isKubeletInbox = (node: string, reply: string | undefined) => reply !== undefined && reply.startsWith(`${kubeletSubjects(node)}.reply.`);

/** Where the requester sends an exec stream's input frames: named in the start message. */
export const inputSubject = (inbox: string) => `${inbox}.input`;

/** Sent by the requester when its client went away: the kubelet stops streaming. */
export const cancelSubject = (inbox: string) => `${inbox}.cancel`;

/** Header of the first message: the kubelet has the request (so silence after it is just a quiet stream). */
export const START_HEADER = 'Keelson-Stream';

/** Header of the first message of an exec: where the requester sends stdin, resize and close frames. */
export const INPUT_HEADER = 'Keelson-Input';

/** Header of the last message when the stream failed: a Kubernetes Status as JSON. */
export const ERROR_HEADER = 'Keelson-Status';

/** The options of `kubectl logs`, as strings in ApiRequest.params. */
export type LogParams = {
  container: string;
  follow?: string;
  previous?: string;
  tailLines?: string;
  timestamps?: string;
  sinceSeconds?: string;
};

/** The options of `kubectl exec`, as strings in ApiRequest.params; `command` is a JSON array. */
export type ExecParams = {
  container: string;
  command: string;
  stdin?: string;
  stdout?: string;
  stderr?: string;
  tty?: string;
};

/**
 * The channels of `v4/v5.channel.k8s.io`: the first byte of every frame.
 * ERROR carries the final Status (Success, or Failure with reason
 * NonZeroExitCode and the exit code); CLOSE (v5) is followed by the channel
 * the sender closes (kubectl closes STDIN at EOF). PING is Keelson's own, only
 * between kubelet and API server: "still here", never relayed.
 */
export const Channel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4, PING: 254, CLOSE: 255 } as const;

/** How often an exec's kubelet says it is still there, and how long the API server waits before giving up on it. */
export const EXEC_PING_MS = 15_000;
export const EXEC_SILENCE_MS = 4 * EXEC_PING_MS;

/** A frame: the channel byte, then the payload. */
export function frame(channel: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = channel;
  out.set(payload, 1);
  return out;
}
