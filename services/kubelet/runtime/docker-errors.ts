/** Reading dockerode's errors: the HTTP status and the engine's own message. */

export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

/** The engine's own words ("No such image: x"), without dockerode's prefix. */
export function dockerMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e?.json?.message ?? e?.message ?? String(err)).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim();
}

/** The 12-character form `docker ps` shows. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}
