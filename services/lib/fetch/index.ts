/**
 * An HTTP request and its whole answer, bounded in time. Node's fetch can leave
 * its promise pending for ever once its signal has aborted (nodejs/node#56917:
 * an abort while the body is read), and AbortSignal.timeout's timer does not
 * keep the process alive: a test or a CLI waiting on such a request just ends
 * with its work undone (seen here: a wait for the compose cluster ended its
 * test process with "Promise resolution is still pending"). Here a timer of
 * our own, which holds the process, aborts the request and rejects, whatever
 * stage the request is at.
 */
import { Agent } from 'undici';

export type Answer = { status: number; headers: Headers; text: string };

/** For HTTPS to a server of the cluster: the CA that signed it, and a client certificate if one is to be shown. */
export type TlsClientOptions = { ca?: string; cert?: string; key?: string };

/** One connection pool per TLS setting, by content: connections are reused however the caller builds the options. */
const agents = new Map<string, Agent>();

function agentFor(tls: TlsClientOptions): Agent {
  const key = JSON.stringify([tls.ca, tls.cert, tls.key]);
  let agent = agents.get(key);
  if (!agent) agents.set(key, (agent = new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } })));
  return agent;
}

/** No complete answer within the time given. */
export class FetchTimeoutError extends Error {
  override name = 'FetchTimeoutError';
}

export async function fetchText(url: string, init: RequestInit, timeoutMs: number, tls?: TlsClientOptions): Promise<Answer> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new FetchTimeoutError(`${init.method ?? 'GET'} ${url}: no complete answer within ${timeoutMs} ms`);
      controller.abort(e);
      reject(e);
    }, timeoutMs);
  });
  const call = (async () => {
    const res = await fetch(url, { ...init, signal: controller.signal, ...(tls ? { dispatcher: agentFor(tls) } : {}) } as RequestInit);
    return { status: res.status, headers: res.headers, text: await res.text() };
  })();
  call.catch(() => undefined); // the loser of the race may reject later
  try {
    return await Promise.race([call, late]);
  } finally {
    clearTimeout(timer);
  }
}
