/** What a `bench/<name>.bench.ts` file exports as its default. */
export type Scenario = {
  name: string;
  /** One line for the list `npm run bench` prints. */
  description: string;
  /** Flags, one per line, for `npm run bench -- <name> --help`. */
  usage?: string;
  run(argv: string[]): Promise<void>;
};
