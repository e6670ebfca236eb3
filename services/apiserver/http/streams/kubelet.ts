/**
 * What `logs` and `exec` share on the API server's side: which node and
 * container a request means, and opening a stream to that node's kubelet over
 * NATS (services/lib/kubelet-api). The open resolves once the kubelet has taken
 * the request, so every failure before that is an HTTP error, not a broken stream.
 */
import { type Msg, type NatsConnection } from '@nats-io/nats-core';
import { REQUEST_TYPE } from '../../../lib/api/nats-api.js';
import type { KObject } from '../../../lib/api/resources.js';
import { encodeMessage } from '../../../lib/codec/index.js';
import { ApiError, errors } from '../../../lib/errors/index.js';
import { cancelSubject, ERROR_HEADER, kubeletInbox, kubeletSubject, START_HEADER } from '../../../lib/kubelet-api/index.js';

/** How long the kubelet has to take the request before the client gets a 503. */
const KUBELET_ANSWER_MS = 5_000;

export type PodShape = KObject & {
  spec?: { nodeName?: string; containers?: { name: string }[]; initContainers?: { name: string }[] };
  status?: { phase?: string };
};

/** The container a request means: the named one, or the pod's only one. */
export function podContainer(pod: PodShape, wanted: string | undefined): string {
  const name = pod.metadata!.name!;
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  if (wanted) {
    if (!all.includes(wanted)) throw errors.badRequest(`container ${wanted} is not valid for pod ${name}`);
    return wanted;
  }
  if (all.length === 1) return all[0]!;
  throw errors.badRequest(`a container name must be specified for pod ${name}, choose one of: [${all.join(' ')}]`);
}

/** The node whose kubelet runs the pod. */
export function podNode(pod: PodShape): string {
  const node = pod.spec?.nodeName;
  if (!node) throw errors.badRequest(`pod ${pod.metadata!.name} does not have a host assigned`);
  return node;
}

/** A kubelet's Status from a message header, if the message carries one. */
export function statusOf(m: Msg): ApiError | undefined {
  const failure = m.headers?.get(ERROR_HEADER);
  return failure ? ApiError.fromStatus(JSON.parse(failure) as { reason?: string; message?: string; code?: number }) : undefined;
}

export type KubeletStream = {
  /** The kubelet's start message (its headers may name more subjects). */
  start: Msg;
  /** Where the kubelet's answer comes (under the node's own subjects). */
  inbox: string;
  /** The client went away: tells the kubelet to stop, and stops listening. */
  cancel(): void;
};

/**
 * Sends `request` to the kubelet of `node` and resolves once it has taken it;
 * every later message goes to `onMessage` (data, then an empty end or a
 * Status header, after which the stream stops listening by itself). Rejects with the kubelet's Status, or 503 when no kubelet answered.
 */
export function openKubeletStream(
  nc: NatsConnection,
  node: string,
  what: 'logs' | 'exec',
  request: Record<string, unknown>,
  onMessage: (m: Msg) => void,
): Promise<KubeletStream> {
  const inbox = kubeletInbox(node);
  return new Promise((resolve, reject) => {
    let started = false;
    const sub = nc.subscribe(inbox, {
      callback: (_err, m) => {
        if (started) {
          onMessage(m);
          // An empty message or a Status ends every stream.
          if (m.data.length === 0 || m.headers?.get(ERROR_HEADER)) sub.unsubscribe();
          return;
        }
        if (m.headers?.get(START_HEADER)) {
          started = true;
          clearTimeout(timer);
          resolve({
            start: m,
            inbox,
            cancel: () => {
              if (sub.isClosed()) return;
              nc.publish(cancelSubject(inbox), new Uint8Array(0));
              sub.unsubscribe();
            },
          });
          return;
        }
        // NATS answers "no responders" (503) at once when no kubelet listens.
        if (m.headers?.code === 503) return fail(notAnswering(node));
        fail(statusOf(m) ?? errors.internal(`the kubelet of node "${node}" ended the ${what} stream before starting it`));
      },
    });
    const fail = (e: ApiError) => {
      clearTimeout(timer);
      sub.unsubscribe();
      reject(e);
    };
    const timer = setTimeout(() => fail(notAnswering(node)), KUBELET_ANSWER_MS);
    nc.publish(kubeletSubject(node, what), encodeMessage(REQUEST_TYPE, request), { reply: inbox });
  });
}

const notAnswering = (node: string) => new ApiError('ServiceUnavailable', `the kubelet of node "${node}" did not answer; is it running?`);
