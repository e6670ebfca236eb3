/**
 * Container log files in the CRI format the kubelet reads on real nodes:
 * one line per output line, `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`
 * (P = a partial line, continued by the next entry). The time and stream tag let
 * `--timestamps` and `--since` work on a plain file, and the file outlives the
 * container, so the logs of an exited instance (`--previous`) stay readable.
 */
import { createWriteStream, openSync, closeSync, readSync, fstatSync, watch, type FSWatcher, type WriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { LogOptions } from './types.js';

export type LogStream = 'stdout' | 'stderr';

export type CriEntry = { time: string; stream: LogStream; partial: boolean; text: string };

/** A line longer than this is split into partial entries. */
const MAX_LINE = 16 * 1024;

/** RFC 3339 with nanosecond digits (the clock gives microseconds; the rest is zero). */
export function rfc3339Nano(ms: number = performance.timeOrigin + performance.now()): string {
  const whole = Math.floor(ms);
  const iso = new Date(whole).toISOString(); // ...T12:34:56.789Z
  const micros = Math.floor((ms - whole) * 1000);
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}000Z`;
}

/** Appends the lines of one or more streams to a CRI log file, in arrival order. */
export class CriLogWriter {
  private readonly file: WriteStream;
  private readonly open = new Set<LogStream>();
  private readonly partial: Record<LogStream, string> = { stdout: '', stderr: '' };
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(path: string, onError: (err: Error) => void = () => {}) {
    this.file = createWriteStream(path, { flags: 'a' });
    this.done = new Promise((ok) => (this.resolveDone = ok));
    // The file can vanish under us (the container was removed): report, never crash.
    this.file.on('error', (err) => {
      onError(err);
      this.resolveDone();
    });
  }

  /** Copies `source` into the file until it ends. */
  attach(stream: LogStream, source: Readable): void {
    this.open.add(stream);
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => this.write(stream, chunk));
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (this.partial[stream]) this.entry(stream, 'F', this.partial[stream]);
      this.partial[stream] = '';
      this.open.delete(stream);
      if (this.open.size === 0) this.file.end(() => this.resolveDone());
    };
    source.once('end', end);
    source.once('close', end);
    source.once('error', end);
  }

  private write(stream: LogStream, chunk: string): void {
    let text = this.partial[stream] + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      this.entry(stream, 'F', text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    while (text.length > MAX_LINE) {
      this.entry(stream, 'P', text.slice(0, MAX_LINE));
      text = text.slice(MAX_LINE);
    }
    this.partial[stream] = text;
  }

  private entry(stream: LogStream, tag: 'F' | 'P', text: string): void {
    this.file.write(`${rfc3339Nano()} ${stream} ${tag} ${text}\n`);
  }
}

export function parseCriLine(line: string): CriEntry | undefined {
  const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line);
  if (!m) return undefined;
  return { time: m[1]!, stream: m[2] as LogStream, partial: m[3] === 'P', text: m[4]! };
}

/** Joins partial entries into whole lines: `[time of the first part, text + "\n"?]`. */
function toLines(entries: CriEntry[]): { time: string; text: string }[] {
  const out: { time: string; text: string }[] = [];
  let pending: { time: string; text: string } | undefined;
  for (const e of entries) {
    pending = pending ? { time: pending.time, text: pending.text + e.text } : { time: e.time, text: e.text };
    if (!e.partial) {
      out.push({ time: pending.time, text: `${pending.text}\n` });
      pending = undefined;
    }
  }
  if (pending) out.push(pending);
  return out;
}

function render(lines: { time: string; text: string }[], timestamps: boolean): string {
  return lines.map((l) => (timestamps ? `${l.time} ${l.text}` : l.text)).join('');
}

export type FollowControl = {
  /** True once nothing more will be written (the container exited and its output was drained). */
  finished(): boolean;
  /** Resolves when finished() turns true. */
  whenFinished: Promise<void>;
};

/**
 * The log as `kubectl logs` prints it: tail and since applied, optional timestamps,
 * and with `follow` new lines as they are appended (inotify, no polling) until the
 * container is finished or the stream is destroyed.
 */
export function readCriLog(path: string, options: LogOptions, control: FollowControl): Readable {
  const sinceMs = options.sinceSeconds !== undefined ? Date.now() - options.sinceSeconds * 1000 : undefined;
  const keep = (e: CriEntry) => sinceMs === undefined || Date.parse(e.time) >= sinceMs;
  let fd: number | undefined;
  let offset = 0;
  let carry = '';
  let watcher: FSWatcher | undefined;
  let first = true;
  let reading = false;
  let again = false;
  let ended = false;

  const out = new Readable({ read() {}, destroy: (err, cb) => (cleanup(), cb(err)) });
  const cleanup = () => {
    ended = true;
    watcher?.close();
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };

  /** Reads whatever was appended since the last call and pushes it. */
  const pump = () => {
    if (ended) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const text = carry + readNew();
        const cut = text.lastIndexOf('\n');
        carry = text.slice(cut + 1);
        const entries = text
          .slice(0, cut + 1)
          .split('\n')
          .filter((l) => l.length > 0)
          .map(parseCriLine)
          .filter((e): e is CriEntry => e !== undefined && keep(e));
        let lines = toLines(entries);
        if (first && options.tailLines !== undefined) lines = options.tailLines > 0 ? lines.slice(-options.tailLines) : [];
        first = false;
        const chunk = render(lines, options.timestamps === true);
        if (chunk) out.push(chunk);
      } while (again);
    } finally {
      reading = false;
    }
  };

  const readNew = (): string => {
    if (fd === undefined) {
      try {
        fd = openSync(path, 'r');
      } catch {
        return ''; // not written yet
      }
    }
    const size = fstatSync(fd).size;
    if (size <= offset) return '';
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    offset += n;
    return buf.subarray(0, n).toString('utf8');
  };

  const finish = () => {
    pump();
    if (ended) return;
    cleanup();
    out.push(null);
  };

  if (options.follow && !control.finished()) {
    try {
      watcher = watch(path, () => pump());
    } catch {
      // the file appears with the container's first start; until then there is nothing to follow
    }
    pump();
    void control.whenFinished.then(finish);
  } else {
    queueMicrotask(finish);
  }
  return out;
}
