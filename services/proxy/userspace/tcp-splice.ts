/**
 * Joins two connected TCP sockets both ways. `pipe` carries backpressure and
 * passes a half-close (FIN) on; both sockets must be allowHalfOpen so that one
 * side's FIN does not end the other direction early. A side that closes
 * without finishing both directions (reset, error, destroy) resets the other,
 * so neither socket outlives its partner.
 */
import type net from 'node:net';

export function splice(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.once('close', () => cutIfBroken(a, b));
  b.once('close', () => cutIfBroken(b, a));
}

function cutIfBroken(closed: net.Socket, other: net.Socket): void {
  const finishedCleanly = closed.readableEnded && closed.writableFinished;
  if (finishedCleanly || other.destroyed) return;
  if (other.connecting || other.pending) other.destroy();
  else other.resetAndDestroy();
}
