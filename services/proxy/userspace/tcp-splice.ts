/**
 * Joins two connected TCP sockets both ways: what one side reads is written to
 * the other, reading paused while the other's buffer is full (backpressure),
 * and a FIN is passed on. Both sockets must be allowHalfOpen so that one
 * side's FIN does not end the other direction early. A side that closes
 * without finishing both directions (reset, error, destroy) resets the other
 * (cutIfBroken, called by the owner of the sockets from their 'close'), so
 * neither socket outlives its partner.
 *
 * 'data' → write rather than `pipe`, and the last FIN passed on by closing
 * rather than shutdown + close: on short connections pipe's bookkeeping and
 * the extra shutdown request were a measurable share of the proxy's CPU.
 */
import type net from 'node:net';

export function splice(a: net.Socket, b: net.Socket): void {
  pump(a, b);
  pump(b, a);
}

function pump(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (to.write(chunk)) return;
    from.pause();
    to.once('drain', () => from.resume());
  });
  // A client may have sent its FIN before the upstream side connected.
  if (from.readableEnded) passEnd(to);
  else from.on('end', () => passEnd(to));
}

/** The peer on the other side has sent its FIN: sends one to `to`'s peer. */
function passEnd(to: net.Socket): void {
  // When `to`'s peer has sent its FIN too and nothing waits to be written, this is the
  // connection's last FIN: closing sends it (after what the kernel still holds) just as well.
  if (to.readableEnded && to.writableLength === 0) to.destroy();
  else to.end();
}

/** `closed` has closed: resets `other` unless `closed` finished both directions cleanly. */
export function cutIfBroken(closed: net.Socket, other: net.Socket): void {
  if (finishedCleanly(closed, other) || other.destroyed) return;
  if (other.connecting || other.pending) other.destroy();
  else other.resetAndDestroy();
}

/** Its peer's FIN read, and its own FIN sent: by end(), or by passEnd closing it once both peers had sent theirs. */
function finishedCleanly(closed: net.Socket, other: net.Socket): boolean {
  if (!closed.readableEnded) return false;
  return closed.writableFinished || (other.readableEnded && !closed.errored);
}
