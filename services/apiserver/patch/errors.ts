/**
 * The one error type thrown by the patch functions.
 *
 * `code` tells the HTTP layer which Status to send:
 *  - 400 BadRequest: the patch document itself is malformed (not a list of operations,
 *    unknown op, bad JSON pointer syntax, bad directive, missing merge key...).
 *  - 422 Invalid: the patch is well formed but cannot be applied to this object
 *    (a `test` failed, a path does not exist...).
 */
export class PatchError extends Error {
  override readonly name = 'PatchError';
  readonly code: 400 | 422;
  readonly reason: 'BadRequest' | 'Invalid';

  constructor(message: string, code: 400 | 422 = 422) {
    super(message);
    this.code = code;
    this.reason = code === 400 ? 'BadRequest' : 'Invalid';
  }
}
