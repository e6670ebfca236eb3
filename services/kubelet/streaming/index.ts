/**
 * The kubelet's streaming endpoints over NATS (services/lib/kubelet-api):
 * `kubectl logs` and `kubectl exec` for the pods of this node, relayed by the
 * API server.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { ContainerRuntime } from '../runtime/index.js';
import { exec } from './exec.js';
import { logs } from './logs.js';
import { serveStream } from './serve.js';

export type Streaming = { close(): void };

export function serveStreaming(nc: NatsConnection, nodeName: string, runtime: ContainerRuntime): Streaming {
  const subs = [
    serveStream(nc, nodeName, 'logs', runtime, logs),
    serveStream(nc, nodeName, 'exec', runtime, exec),
  ];
  return { close: () => subs.forEach((s) => s.unsubscribe()) };
}
