/**
 * The load client of the proxy benchmark, a child process of its own (so that
 * its CPU is read apart, and, for the iptables phase, so that it can run inside
 * the benchmark's network namespace):
 *
 *   node proxy-client-child.js
 *
 * Reads `load <json Load>` lines on stdin, runs one at a time and answers
 * `PROXY-CLIENT-RESULT <json LoadOutcome>`:
 *
 *   bulk  `connections` connections at once, each asking for `bulkBytes`
 *         (and, once it has them, opening the next one), for `seconds`: the
 *         bytes received inside the window. Reads go into one reused buffer
 *         per connection (`onread`), so the client allocates nothing per read.
 *   rr    a closed loop with `connections` in flight for `seconds`: connect,
 *         send `R\n`, read the 64-byte answer up to the server's FIN, close;
 *         each exchange's latency, connect call → FIN received.
 *
 * Stops when stdin closes or on SIGTERM.
 */
import net from 'node:net';
import { serveCommands } from './child-commands.js';
import { bulkRequest, CLIENT_READY, CLIENT_RESULT, RESPONSE_BYTES, RR_REQUEST, type Load, type LoadOutcome } from './proxy-protocol.js';
import { nowMs } from './stats.js';

const HARD_LIMIT_MS = 40 * 60_000;
const READ_BUFFER = 256 * 1024;

function bulk(load: Load): Promise<LoadOutcome> {
  const out: LoadOutcome = { kind: 'bulk', bytes: 0, ops: 0, errors: 0, elapsedMs: 0, latenciesUs: [] };
  const start = nowMs();
  const deadline = start + load.seconds * 1000;
  const open = new Set<net.Socket>();
  let stopped = false;
  const fail = (e: Error) => {
    out.errors++;
    out.firstError ??= e.message;
  };
  const connect = (buffer: Buffer) => {
    if (stopped) return;
    let got = 0;
    const socket = net.connect({
      host: load.host,
      port: load.port,
      onread: {
        buffer,
        callback: (n: number) => {
          if (stopped) return false;
          got += n;
          out.bytes += n;
          return true;
        },
      },
    });
    open.add(socket);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(bulkRequest(load.bulkBytes)));
    socket.on('error', fail);
    socket.on('close', () => {
      open.delete(socket);
      if (stopped) return;
      if (got === load.bulkBytes) out.ops++;
      else if (!socket.errored) fail(new Error(`a transfer ended after ${got} of ${load.bulkBytes} bytes`));
      connect(buffer);
    });
  };
  for (let i = 0; i < load.connections; i++) connect(Buffer.allocUnsafe(READ_BUFFER));
  return new Promise((resolve) => {
    setTimeout(() => {
      stopped = true;
      out.elapsedMs = nowMs() - start;
      for (const s of open) s.destroy();
      resolve(out);
    }, deadline - nowMs());
  });
}

async function rr(load: Load): Promise<LoadOutcome> {
  const out: LoadOutcome = { kind: 'rr', bytes: 0, ops: 0, errors: 0, elapsedMs: 0, latenciesUs: [] };
  const start = nowMs();
  const deadline = start + load.seconds * 1000;
  let last = start;
  const one = (buffer: Buffer) =>
    new Promise<void>((resolve) => {
      const t0 = nowMs();
      let got = 0;
      let answered = false;
      const socket = net.connect({ host: load.host, port: load.port, onread: { buffer, callback: (n: number) => ((got += n), true) } });
      socket.setNoDelay(true);
      socket.on('connect', () => socket.write(RR_REQUEST));
      socket.on('end', () => {
        if (got !== RESPONSE_BYTES) return;
        answered = true;
        const t1 = nowMs();
        out.latenciesUs.push(Math.round((t1 - t0) * 1000));
        out.bytes += got;
        out.ops++;
        last = t1;
      });
      socket.on('error', (e) => {
        out.errors++;
        out.firstError ??= e.message;
      });
      socket.on('close', () => {
        if (!answered && !socket.errored) {
          out.errors++;
          out.firstError ??= `closed after ${got} of ${RESPONSE_BYTES} bytes`;
        }
        resolve();
      });
    });
  const worker = async () => {
    const buffer = Buffer.allocUnsafe(RESPONSE_BYTES * 2);
    while (nowMs() < deadline) await one(buffer);
  };
  await Promise.all(Array.from({ length: load.connections }, worker));
  out.elapsedMs = last - start;
  return out;
}

function main(): void {
  let queue = Promise.resolve();
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, HARD_LIMIT_MS).unref();
  serveCommands(stop, {
    load: (arg) => {
      const load = JSON.parse(arg) as Load;
      queue = queue
        .then(() => (load.kind === 'bulk' ? bulk(load) : rr(load)))
        .then((r) => void process.stdout.write(`${CLIENT_RESULT} ${JSON.stringify(r)}\n`))
        .catch((e: Error) => void process.stdout.write(`${CLIENT_RESULT} ${JSON.stringify({ kind: load.kind, bytes: 0, ops: 0, errors: 1, firstError: e.message, elapsedMs: 0, latenciesUs: [] })}\n`));
    },
  });
  process.stdout.write(`${CLIENT_READY}\n`);
}

main();
