/** Small builders shared by the container runtime tests. */
import type { Readable } from 'node:stream';
import type { Container } from '../../services/kubelet/runtime/index.js';

/** A busybox container running a shell script. */
export const sh = (name: string, script: string, extra: Partial<Container> = {}): Container => ({
  name,
  image: 'busybox',
  command: ['sh', '-c', script],
  ...extra,
});

/** Everything a stream yields, as text. */
export async function readAll(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}
