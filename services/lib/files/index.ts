/**
 * Files only their owner may read (keys, tokens, kubeconfigs with a
 * credential): made 0600, and a file that was there before is narrowed to 0600
 * before anything secret is written into it.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';

export function writePrivateFile(path: string, data: string): void {
  if (existsSync(path)) chmodSync(path, 0o600);
  writeFileSync(path, data, { mode: 0o600 });
}
