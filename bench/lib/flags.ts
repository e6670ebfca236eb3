/** Checked flag values for the scenarios' parseOptions: a bad one is an error naming the flag and what it takes. */

/** An integer flag in min..max, `dflt` when absent. */
export function intFlag(value: string | undefined, dflt: number, name: string, min: number, max: number): number {
  const n = value === undefined ? dflt : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}, not ${value}`);
  return n;
}
