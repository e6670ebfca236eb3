/** Which runtime container a stream request means: the container's current instance, or the one before it. */
import { ApiError } from '../../lib/errors/index.js';
import type { ContainerRuntime, ManagedContainer } from '../runtime/index.js';

export async function containerInstance(
  runtime: ContainerRuntime,
  namespace: string,
  pod: string,
  container: string,
  previous = false,
): Promise<ManagedContainer> {
  const all = (await runtime.listManaged())
    .filter((m) => m.kind === 'container' && m.namespace === namespace && m.podName === pod && m.container === container)
    .sort((a, b) => b.attempt - a.attempt);
  const found = all[previous ? 1 : 0];
  if (!found) {
    throw new ApiError(
      previous ? 'BadRequest' : 'NotFound',
      previous
        ? `previous terminated container "${container}" in pod "${pod}" not found`
        : `container "${container}" in pod "${pod}" is waiting to start: no instance has run yet`,
    );
  }
  return found;
}
