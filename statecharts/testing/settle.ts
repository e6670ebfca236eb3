/** Lets the promise actors a machine invoked resolve and their results land (a few turns of the event loop). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}
