/**
 * Field errors in Kubernetes' shape and words: each one becomes a StatusCause of a
 * 422 Invalid, e.g. `{ reason: 'FieldValueInvalid', field: 'metadata.name',
 * message: 'Invalid value: "Foo": a lowercase RFC 1123 subdomain must ...' }`.
 */
import { elide, type StatusCause } from '../../../lib/errors/index.js';

export type CauseReason =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong';

export type FieldCause = StatusCause & { reason: CauseReason; field: string };

/** How Kubernetes prints a bad value: strings quoted, numbers bare, the rest as JSON; a long one cut short (elide). */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(elide(v));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === undefined || v === null) return 'null';
  try {
    return elide(JSON.stringify(v));
  } catch {
    return elide(String(v));
  }
}

const withDetail = (head: string, detail?: string) => (detail ? `${head}: ${detail}` : head);

/** The causes found so far; validators push into one list and never throw. */
export class Errs {
  readonly causes: FieldCause[] = [];

  private add(reason: CauseReason, field: string, message: string): void {
    this.causes.push({ reason, field, message });
  }

  required(field: string, detail?: string): void {
    this.add('FieldValueRequired', field, withDetail('Required value', detail));
  }

  invalid(field: string, value: unknown, detail?: string): void {
    this.add('FieldValueInvalid', field, withDetail(`Invalid value: ${formatValue(value)}`, detail));
  }

  notSupported(field: string, value: unknown, supported: readonly string[]): void {
    const list = supported.map((s) => JSON.stringify(s)).join(', ');
    this.add('FieldValueNotSupported', field, withDetail(`Unsupported value: ${formatValue(value)}`, list && `supported values: ${list}`));
  }

  duplicate(field: string, value: unknown, detail?: string): void {
    this.add('FieldValueDuplicate', field, withDetail(`Duplicate value: ${formatValue(value)}`, detail));
  }

  forbidden(field: string, detail: string): void {
    this.add('FieldValueForbidden', field, withDetail('Forbidden', detail));
  }

  tooLong(field: string, max: number): void {
    this.add('FieldValueTooLong', field, `Too long: must have at most ${max} bytes`);
  }

  /** One Invalid cause per message, as Kubernetes reports name and label problems. */
  invalidEach(field: string, value: unknown, messages: readonly string[]): void {
    for (const m of messages) this.invalid(field, value, m);
  }
}
