/**
 * A lean HTTP/1.1 client for benchmarks: node:http with a keep-alive agent
 * (connections are reused, Nagle off), so a measured request is one round trip
 * on an open connection and costs the client as little CPU as Node allows.
 * (Global fetch/undici also keeps connections alive, but its WHATWG streams
 * cost more client CPU per request, which on a 2-core machine is taken from the
 * server being measured.)
 */
import http from 'node:http';

export type HttpResult = { status: number; bytes: number; body?: string };

export class HttpClient {
  readonly agent: http.Agent;
  private readonly url: URL;

  constructor(
    baseUrl: string,
    /** Connections kept open: the most requests in flight at once. */
    maxSockets: number,
  ) {
    this.url = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
  }

  /**
   * One request. The body is read to its end (so the time covers the whole
   * response); it is returned as text only when `keepBody` is set or the
   * status is not 2xx (for the error message).
   */
  request(method: string, path: string, body?: string, opts: { contentType?: string; keepBody?: boolean; timeoutMs?: number } = {}): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = opts.contentType ?? 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: this.url.hostname, port: this.url.port, method, path, headers, agent: this.agent },
        (res) => {
          const status = res.statusCode ?? 0;
          const keep = opts.keepBody || status < 200 || status >= 300;
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (keep) chunks.push(c);
          });
          res.on('end', () => resolve({ status, bytes, body: keep ? Buffer.concat(chunks).toString('utf8') : undefined }));
          res.on('error', reject);
        },
      );
      req.on('socket', (s) => s.setNoDelay(true));
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Throws with the server's message unless the status is 2xx. */
export function expectOk(r: HttpResult, what: string): HttpResult {
  if (r.status < 200 || r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.body?.slice(0, 300) ?? ''}`);
  return r;
}
