/**
 * `kubectl exec` for the pods of this node: runs the command in the
 * container's current instance and relays Kubernetes' channel frames both ways
 * — stdout and stderr out, stdin, stdin-close and terminal resizes in on a
 * subject of its own — and ends with the Status frame that carries the exit
 * code. A PING frame every EXEC_PING_MS tells the API server the kubelet is still there.
 */
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { ApiError, errors } from '../../lib/errors/index.js';
import { Channel, EXEC_PING_MS, frame, INPUT_HEADER, inputSubject, type ExecParams } from '../../lib/kubelet-api/index.js';
import { isRuntimeError, type ExecSession } from '../runtime/index.js';
import { containerInstance } from './instance.js';
import { publishChunked, type StreamContext } from './serve.js';

export async function exec(ctx: StreamContext): Promise<void> {
  const { nc, runtime, request, inbox, signal } = ctx;
  const p = (request.params ?? {}) as ExecParams;
  const command = parseCommand(p.command);
  const pod = request.name ?? '';
  const instance = await containerInstance(runtime, request.namespace ?? '', pod, p.container);
  let session: ExecSession;
  try {
    session = await runtime.exec(instance.id, command, { stdin: p.stdin === 'true', tty: p.tty === 'true' });
  } catch (e) {
    if (isRuntimeError(e)) throw errors.badRequest(`unable to exec in container "${p.container}" of pod "${pod}": ${e.message}`);
    throw e;
  }

  const input = nc.subscribe(inputSubject(inbox), {
    callback: (_err, m) => {
      const [channel] = m.data;
      const payload = m.data.subarray(1);
      if (channel === Channel.STDIN && payload.length) session.stdin?.write(payload);
      else if (channel === Channel.CLOSE && payload[0] === Channel.STDIN) session.stdin?.end();
      else if (channel === Channel.RESIZE) resize(session, payload);
    },
  });
  const ping = setInterval(() => nc.publish(inbox, frame(Channel.PING)), EXEC_PING_MS);
  const onAbort = () => {
    session.stdin?.end();
    session.stdout.destroy();
    session.stderr.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  ctx.start({ [INPUT_HEADER]: input.getSubject() });
  try {
    await Promise.all([
      relay(ctx, session.stdout, p.stdout === 'false' ? undefined : Channel.STDOUT),
      relay(ctx, session.stderr, p.stderr === 'false' ? undefined : Channel.STDERR),
    ]);
    const code = await untilAborted(session.exitCode, signal);
    if (code !== undefined) nc.publish(inbox, frame(Channel.ERROR, Buffer.from(JSON.stringify(exitStatus(command, code)))));
  } finally {
    clearInterval(ping);
    signal.removeEventListener('abort', onAbort);
    input.unsubscribe();
  }
}

/** Relays one output stream as frames of `channel` (or drops it when the client did not ask for it). */
async function relay(ctx: StreamContext, stream: Readable, channel: number | undefined): Promise<void> {
  stream.on('data', (chunk: Buffer) => {
    if (channel !== undefined) publishChunked(ctx.nc, ctx.inbox, chunk, (part) => frame(channel, part));
  });
  await finished(stream).catch((e: unknown) => {
    if (!ctx.signal.aborted) throw e;
  });
}

function parseCommand(raw: string | undefined): string[] {
  let command: unknown;
  try {
    command = JSON.parse(raw ?? '[]');
  } catch {
    command = undefined;
  }
  if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string')) {
    throw new ApiError('BadRequest', 'you must specify at least one command for the container');
  }
  return command as string[];
}

/** kubectl's resize frame: `{"Width":80,"Height":24}`. */
function resize(session: ExecSession, payload: Uint8Array): void {
  try {
    const size = JSON.parse(Buffer.from(payload).toString('utf8')) as { Width?: unknown; Height?: unknown };
    if (typeof size.Width === 'number' && typeof size.Height === 'number') void session.resize?.(size.Width, size.Height).catch(() => undefined);
  } catch {
    // A malformed resize is ignored, as Kubernetes does.
  }
}

/** The Status kubectl turns into its own exit code (Kubernetes' wording). */
export function exitStatus(command: string[], code: number): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
