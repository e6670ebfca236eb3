/**
 * Untrusted request text to a value, for both edges (HTTP bodies, NATS
 * patches): the nesting checked first (nesting.ts), then JSON or YAML parsed;
 * any problem is a 400 BadRequest naming it.
 *
 *   const patch = parseText(text, 'yaml');
 */
import { parse as parseYaml } from 'yaml';
import { errors } from '../../lib/errors/index.js';
import { nestingProblem } from './nesting.js';

export { MAX_NESTING, nestingProblem } from './nesting.js';

export function parseText(text: string, format: 'json' | 'yaml', what = 'the request body'): unknown {
  const tooDeep = nestingProblem(text, format === 'yaml');
  if (tooDeep) throw errors.badRequest(tooDeep.replace('the body', what));
  try {
    return format === 'yaml' ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw errors.badRequest(`${what} is not valid ${format === 'yaml' ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}`);
  }
}
