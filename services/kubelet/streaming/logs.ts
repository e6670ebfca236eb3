/**
 * `kubectl logs` for the pods of this node: finds the container instance (the
 * current one, or with `previous` the one before), reads its log from the
 * runtime and streams the chunks to the requester.
 */
import type { LogParams } from '../../lib/kubelet-api/index.js';
import { containerInstance } from './instance.js';
import { publishChunked, type StreamContext } from './serve.js';

export async function logs(ctx: StreamContext): Promise<void> {
  const { runtime, request } = ctx;
  const p = (request.params ?? {}) as LogParams;
  const { id } = await containerInstance(runtime, request.namespace ?? '', request.name ?? '', p.container, p.previous === 'true');
  const stream = await runtime.logs(id, {
    follow: p.follow === 'true',
    timestamps: p.timestamps === 'true',
    ...(p.tailLines ? { tailLines: Number(p.tailLines) } : {}),
    ...(p.sinceSeconds ? { sinceSeconds: Number(p.sinceSeconds) } : {}),
  });
  ctx.signal.addEventListener('abort', () => stream.destroy(), { once: true });
  ctx.start();
  try {
    for await (const chunk of stream) {
      publishChunked(ctx.nc, ctx.inbox, Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    }
  } catch (e) {
    if (!ctx.signal.aborted) throw e;
  }
}
