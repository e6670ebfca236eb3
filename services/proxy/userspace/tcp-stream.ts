/**
 * A TCP socket of the user-space proxy: Node's own TCP handle (the tcp_wrap
 * binding that node:net is built on) in a small class of ours, instead of a
 * net.Socket. This file is the only one that knows those bindings.
 *
 * Why: the proxy's cost per short connection was Node's socket machinery, not
 * the proxy's code. A net.Socket is a Duplex stream and an EventEmitter, and
 * a connection made and drove two of them: it cost the proxy ~225 µs of CPU,
 * with the proxy's own functions under 1 % of the samples and V8's runtime
 * ~13 % (cache misses in the stream constructors). On the handles
 * a connection costs ~145-180 µs (haproxy ~130), and the proxy went from 0.73-
 * 0.83× haproxy's new-connection rate to 0.81-0.94× (`npm run bench -- proxy
 * --phase data`, bench/README.md). The bindings are what node:net itself
 * calls; `process.binding` gives them to user code (deprecated, DEP0111, in
 * documentation only). Loading this file checks that they have
 * the shape used here, so a Node.js that changed them fails at start-up, not
 * on the first connection.
 *
 * The owner (tcp-connection.ts) hears everything through StreamOwner, called
 * with the stream it concerns; nothing is called once the stream is closing.
 */
import type net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** What a stream tells its owner. */
export interface StreamOwner {
  /** The connect of connectTo() ended: `error` is an errno name (ECONNREFUSED), or undefined when connected. */
  streamConnected(stream: TcpStream, error: string | undefined): void;
  streamData(stream: TcpStream, chunk: Buffer): void;
  /** The peer's FIN was read. */
  streamEnded(stream: TcpStream): void;
  /** Every write has reached the kernel (after write() returned false). */
  streamDrained(stream: TcpStream): void;
  /** Our FIN was sent (after end()). */
  streamFinished(stream: TcpStream): void;
  /** A read, write or shutdown failed (a reset, mostly): the stream is broken. */
  streamFailed(stream: TcpStream, error: string): void;
  /** The handle is closed: called once per stream. */
  streamClosed(stream: TcpStream): void;
}

export class TcpStream {
  /** Writes handed to the kernel that have not completed yet. */
  private pending = 0;
  /** The peer's FIN was read. */
  ended = false;
  /** Our FIN was sent. */
  finished = false;
  /** end() asked for our FIN and it is not sent yet. */
  private shutting = false;
  /** reset() was called while shutting: it happens once the FIN is sent. */
  private resetWhenShut = false;
  /** close() or reset() was called: nothing more is heard or done. */
  closing = false;

  private constructor(
    private readonly handle: Handle,
    readonly owner: StreamOwner,
  ) {
    handle.stream = this;
    handle.onread = onRead;
  }

  /** A stream on a socket just accepted (adoptAccepts); call resume() to read. */
  static accepted(handle: AcceptedHandle, owner: StreamOwner): TcpStream {
    return new TcpStream(handle as unknown as Handle, owner);
  }

  /**
   * Starts connecting to ip:port; owner.streamConnected follows, unless the
   * stream is closed first. A connect the kernel refuses at once (an
   * unreachable network, no file descriptor left) is reported the same way,
   * a moment later, so the owner has one path for every failure.
   */
  static connectTo(ip: string, port: number, owner: StreamOwner): TcpStream {
    const stream = new TcpStream(new bindings.TCP(bindings.SOCKET), owner);
    const req = new bindings.TCPConnectWrap();
    req.oncomplete = afterConnect;
    req.stream = stream;
    req.address = ip;
    req.port = port;
    const err = ip.includes(':') ? stream.handle.connect6(req, ip, port) : stream.handle.connect(req, ip, port);
    if (err < 0) queueMicrotask(() => stream.connected(err));
    return stream;
  }

  /** Starts or resumes reading. */
  resume(): void {
    if (!this.closing && !this.ended) this.handle.readStart();
  }

  pause(): void {
    if (!this.closing) this.handle.readStop();
  }

  /** True when the kernel took all of `chunk` at once; false when it is queued (streamDrained follows). */
  write(chunk: Buffer): boolean {
    if (this.closing) return true;
    const req = new bindings.WriteWrap();
    req.handle = this.handle;
    req.oncomplete = afterWrite;
    req.async = false;
    req.stream = this;
    req.buffer = chunk; // kept alive until the kernel has it
    const err = this.handle.writeBuffer(req, chunk);
    if (err < 0) {
      this.owner.streamFailed(this, errorName(err));
      return true;
    }
    if (!bindings.state[bindings.kLastWriteWasAsync]) return true;
    this.pending++;
    return false;
  }

  /** Whether writes are still queued. */
  get writing(): boolean {
    return this.pending > 0;
  }

  /** Sends our FIN once what is queued is written; streamFinished follows. */
  end(): void {
    if (this.closing) return;
    const req = new bindings.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = afterShutdown;
    req.stream = this;
    const err = this.handle.shutdown(req);
    if (err === 0) this.shutting = true;
    else if (err === 1 || err === UV_ENOTCONN) this.shutDown(0); // done already, as node:net counts it
    else this.owner.streamFailed(this, errorName(err));
  }

  /** Closes the socket (a FIN, if not sent yet, and nothing unread); queued writes are dropped. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.handle.close(onClose);
  }

  /**
   * Closes the socket with a reset (RST). While our FIN is pending, once it is
   * sent: libuv refuses to reset a socket that is shutting down (and Node.js
   * then never closes it), and a close now would drop the queued writes and
   * end with a FIN, as if nothing had broken.
   */
  reset(): void {
    if (this.closing) return;
    if (this.shutting) {
      this.resetWhenShut = true;
      return;
    }
    this.closing = true;
    // libuv fails a reset only while shutting down (not here) or when setsockopt fails
    // on a descriptor it owns; then the handle is lost, but its owner still hears it.
    if (this.handle.reset(onClose) < 0) this.owner.streamClosed(this);
  }

  /** The peer's IP (a getpeername call), '' when unknown. */
  peerAddress(): string {
    const out: { address?: string } = {};
    return this.closing || this.handle.getpeername(out) < 0 ? '' : (out.address ?? '');
  }

  /** @internal the handle read `nread` bytes (or an error or EOF). */
  read(buffer: ArrayBuffer | undefined, nread: number): void {
    if (this.closing) return;
    if (nread > 0) return this.owner.streamData(this, Buffer.from(buffer!, bindings.state[bindings.kArrayBufferOffset], nread));
    if (nread === 0) return;
    if (nread !== UV_EOF) return this.owner.streamFailed(this, errorName(nread));
    this.ended = true;
    this.owner.streamEnded(this);
  }

  /** @internal */
  wrote(status: number): void {
    if (this.closing) return;
    if (status < 0) return this.owner.streamFailed(this, errorName(status));
    if (--this.pending === 0) this.owner.streamDrained(this);
  }

  /** @internal */
  shutDown(status: number): void {
    this.shutting = false;
    if (this.closing) return;
    if (this.resetWhenShut) return this.reset();
    if (status < 0) return this.owner.streamFailed(this, errorName(status));
    this.finished = true;
    this.owner.streamFinished(this);
  }

  /** @internal */
  connected(status: number): void {
    if (!this.closing) this.owner.streamConnected(this, status < 0 ? errorName(status) : undefined);
  }
}

/**
 * From now on `server` hands each socket it accepts to `accept` as a bare
 * handle (TcpStream.accepted), not as a net.Socket. The net.Server still binds,
 * closes and reports errors; it counts no connections (getConnections() says
 * 0, maxConnections is not applied), so its 'close' comes as soon as the
 * listening socket is closed. Works on a server that listens
 * already (one received from another process) and on one about to.
 */
export function adoptAccepts(server: net.Server, accept: (handle: AcceptedHandle) => void, onError: (error: string) => void): void {
  const take = () => {
    const handle = (server as unknown as { _handle: ServerHandle | null })._handle;
    if (!handle) return;
    handle.onconnection = (status, client) => {
      if (status < 0 || !client) return onError(`accept: ${errorName(status)}`);
      accept(client);
    };
  };
  if (server.listening) take();
  else server.once('listening', take);
}

/** A socket just accepted, not yet a stream. */
export type AcceptedHandle = { readonly accepted: unique symbol };

function errorName(code: number): string {
  try {
    return getSystemErrorName(code);
  } catch {
    return `error ${code}`;
  }
}

// Callbacks the bindings call with `this` bound to the handle or request: one
// function each, shared by every stream, so no closure is made per socket.
function onRead(this: Handle, buffer: ArrayBuffer | undefined): void {
  this.stream.read(buffer, bindings.state[bindings.kReadBytesOrError]!);
}
function onClose(this: Handle): void {
  this.stream.owner.streamClosed(this.stream);
}
function afterWrite(this: Request, status: number): void {
  this.stream.wrote(status);
}
function afterShutdown(this: Request, status: number): void {
  this.stream.shutDown(status);
}
function afterConnect(this: void, status: number, _handle: unknown, req: Request): void {
  req.stream.connected(status);
}

// ---- Node's bindings, as this file uses them (Node.js 20: src/tcp_wrap.cc, src/stream_base.cc) ----

const UV_EOF = -4095;
const UV_ENOTCONN = -107;

type Request = {
  oncomplete: unknown;
  stream: TcpStream;
  handle?: Handle;
  async?: boolean;
  buffer?: Buffer;
  address?: string;
  port?: number;
};
type RequestClass = new () => Request;

type Handle = {
  stream: TcpStream;
  onread: (this: Handle, buffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: Request, data: Buffer): number;
  shutdown(req: Request): number;
  connect(req: Request, ip: string, port: number): number;
  connect6(req: Request, ip: string, port: number): number;
  getpeername(out: { address?: string }): number;
  close(callback: (this: Handle) => void): void;
  reset(callback: (this: Handle) => void): number;
};

type ServerHandle = { onconnection: (status: number, client: AcceptedHandle | undefined) => void };

const bindings = loadBindings();

function loadBindings() {
  const get = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
  const binding = (name: string) => {
    try {
      return get(name);
    } catch (err) {
      // e.g. ERR_ACCESS_DENIED under Node.js's permission model
      throw new Error(`the user-space proxy needs Node.js's ${name} binding, and process.binding refused it: ${String(err)}`);
    }
  };
  const tcp = binding('tcp_wrap') as { TCP: new (type: number) => Handle; TCPConnectWrap: RequestClass; constants: { SOCKET: number } };
  const stream = binding('stream_wrap') as {
    WriteWrap: RequestClass;
    ShutdownWrap: RequestClass;
    streamBaseState: Int32Array;
    kReadBytesOrError: number;
    kArrayBufferOffset: number;
    kLastWriteWasAsync: number;
  };
  const methods = ['readStart', 'readStop', 'writeBuffer', 'shutdown', 'connect', 'connect6', 'getpeername', 'close', 'reset'];
  const shapeOk =
    typeof tcp?.TCP === 'function' &&
    typeof tcp.TCPConnectWrap === 'function' &&
    typeof tcp.constants?.SOCKET === 'number' &&
    methods.every((m) => typeof (tcp.TCP.prototype as Record<string, unknown>)[m] === 'function') &&
    typeof stream?.WriteWrap === 'function' &&
    typeof stream.ShutdownWrap === 'function' &&
    stream.streamBaseState instanceof Int32Array &&
    [stream.kReadBytesOrError, stream.kArrayBufferOffset, stream.kLastWriteWasAsync].every((k) => typeof k === 'number');
  if (!shapeOk) throw new Error(`the user-space proxy needs Node.js's tcp_wrap and stream_wrap bindings as Node.js 20 has them; Node.js ${process.version} has not`);
  return {
    TCP: tcp.TCP,
    SOCKET: tcp.constants.SOCKET,
    TCPConnectWrap: tcp.TCPConnectWrap,
    WriteWrap: stream.WriteWrap,
    ShutdownWrap: stream.ShutdownWrap,
    state: stream.streamBaseState,
    kReadBytesOrError: stream.kReadBytesOrError,
    kArrayBufferOffset: stream.kArrayBufferOffset,
    kLastWriteWasAsync: stream.kLastWriteWasAsync,
  };
}
