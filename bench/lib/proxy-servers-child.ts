/**
 * The backend servers of the proxy benchmark, all in one child process so that
 * their CPU is read apart from the proxy's and the client's:
 *
 *   node proxy-servers-child.js '["127.0.0.1:0","127.0.0.1:0","127.0.0.1:0"]'
 *
 * One TCP server per address (port 0: any free port). Each reads one request
 * line (proxy-protocol.ts): `B<bytes>` → it sends that many bytes from one
 * reused buffer, minding backpressure, then ends; `R` → a 64-byte answer, then
 * it ends. The server closes first, so TIME_WAIT stays on the server side and
 * the client's ephemeral ports are not used up. Prints `PROXY-SERVERS-READY
 * <json ports>`; stops when stdin closes or on SIGTERM.
 */
import net from 'node:net';
import { serveCommands } from './child-commands.js';
import { RESPONSE_BYTES, SERVERS_READY } from './proxy-protocol.js';

const HARD_LIMIT_MS = 40 * 60_000;
const CHUNK = Buffer.alloc(1024 * 1024, 0x61);
const ANSWER = Buffer.alloc(RESPONSE_BYTES, 0x62);
const MAX_REQUEST = 32;

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => undefined); // a client cut off at its deadline resets
  let request = '';
  const onData = (chunk: Buffer) => {
    request += chunk.toString('latin1');
    const nl = request.indexOf('\n');
    if (nl < 0) {
      if (request.length > MAX_REQUEST) socket.destroy();
      return;
    }
    socket.off('data', onData);
    const line = request.slice(0, nl);
    if (line === 'R') socket.end(ANSWER);
    else if (line.startsWith('B') && Number(line.slice(1)) > 0) send(socket, Number(line.slice(1)));
    else socket.destroy();
  };
  socket.on('data', onData);
}

/** Writes `bytes` bytes of CHUNK, waiting for 'drain' whenever the socket's buffer is full, then ends. */
function send(socket: net.Socket, bytes: number): void {
  let left = bytes;
  const pump = () => {
    while (left > 0 && !socket.destroyed) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void socket.once('drain', pump);
    }
    if (!socket.destroyed) socket.end();
  };
  pump();
}

async function main(): Promise<void> {
  const addresses = JSON.parse(process.argv[2] ?? '[]') as string[];
  if (!addresses.length) throw new Error('usage: proxy-servers-child.js <json ["ip:port", ...]>');
  const servers: net.Server[] = [];
  const ports: number[] = [];
  for (const a of addresses) {
    const i = a.lastIndexOf(':');
    const server = net.createServer(serve);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: a.slice(0, i), port: Number(a.slice(i + 1)), backlog: 4096 }, resolve);
    });
    servers.push(server);
    ports.push((server.address() as net.AddressInfo).port);
  }
  const stop = () => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  serveCommands(stop);
  setTimeout(stop, HARD_LIMIT_MS).unref();
  process.stdout.write(`${SERVERS_READY} ${JSON.stringify(ports)}\n`);
}

main().catch((e) => {
  process.stderr.write(`servers child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
