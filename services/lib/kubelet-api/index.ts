/**
 * How the API server reaches a kubelet: NATS subjects per node, the request
 * (a keelson.api.v1.ApiRequest naming the pod, container and options in
 * `params`), and the stream that answers it on the requester's inbox: a start
 * message, raw chunks, an empty message at the end (an error: a Status in a header).
 */
export const kubeletSubject = (node: string, what: 'logs') => `keelson.kubelet.${node}.${what}`;

/** Sent by the requester when its client went away: the kubelet stops streaming. */
export const cancelSubject = (inbox: string) => `${inbox}.cancel`;

/** Header of the first message: the kubelet has the request (so silence after it is just a quiet log). */
export const START_HEADER = 'Keelson-Stream';

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
