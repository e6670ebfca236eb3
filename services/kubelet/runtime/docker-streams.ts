/**
 * Docker's multiplexed stream format (logs and exec of a container without a tty):
 * frames of an 8-byte header — stream type (0 stdin, 1 stdout, 2 stderr), three zero
 * bytes, a big-endian payload length — then the payload. Frames arrive in the order
 * the engine recorded them, so merging them keeps stdout and stderr interleaved.
 */
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';

export type StreamType = 0 | 1 | 2;

/** Splits a byte stream into frames; tolerates frames split across chunks. */
export class FrameParser {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (type: StreamType, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const type = buf[0] as StreamType;
      this.onFrame(type, buf.subarray(8, 8 + size));
      buf = buf.subarray(8 + size);
    }
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }
}

/** A Transform that turns multiplexed frames into the payloads, stdout and stderr merged in order. */
export class FrameMerger extends Transform {
  private readonly parser = new FrameParser((_type, payload) => this.push(payload));

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.parser.push(chunk);
    done();
  }
}

/** Splits a multiplexed stream into two readables that end when the source ends. */
export function splitFrames(source: Readable): { stdout: PassThrough; stderr: PassThrough } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const parser = new FrameParser((type, payload) => (type === 2 ? stderr : stdout).write(payload));
  source.on('data', (chunk: Buffer) => parser.push(chunk));
  const finish = () => {
    stdout.end();
    stderr.end();
  };
  source.once('end', finish);
  source.once('close', finish);
  source.once('error', (err) => {
    stdout.destroy(err);
    stderr.destroy(err);
  });
  return { stdout, stderr };
}

