/**
 * Expectations, as Kubernetes' ReplicaSet controller keeps them: after a sync
 * creates or deletes pods, the informer has not seen those changes yet, so a
 * second sync would count the old pods and create (or delete) again. The
 * controller records what it expects to see and syncs the key only once the
 * watch has shown all of it, or after a timeout (a lost event must not block
 * the controller forever).
 */

/** How long unmet expectations hold a key back (Kubernetes: 5 min; ours is faster). */
export const EXPECTATIONS_TIMEOUT_MS = 30_000;

type Expectation = { adds: number; dels: number; since: number; deleting: Set<string> };

export class Expectations {
  private readonly byKey = new Map<string, Expectation>();

  constructor(private readonly timeoutMs = EXPECTATIONS_TIMEOUT_MS) {}

  /** True when the key may be synced: nothing expected, all seen, or expired. */
  satisfied(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return true;
    if ((e.adds <= 0 && e.dels <= 0) || Date.now() - e.since > this.timeoutMs) {
      this.byKey.delete(key);
      return true;
    }
    return false;
  }

  /** The sync is about to create `adds` objects and delete the ones named in `deleting` (their uids). */
  expect(key: string, adds: number, deleting: Iterable<string> = []): void {
    const set = new Set(deleting);
    this.byKey.set(key, { adds, dels: set.size, since: Date.now(), deleting: set });
  }

  /** The watch showed one of the creations (or a create failed: it will never be seen). */
  creationObserved(key: string): void {
    const e = this.byKey.get(key);
    if (e) e.adds--;
  }

  /** The watch showed a deletion (or a delete failed / the object was already gone). */
  deletionObserved(key: string, uid: string): void {
    const e = this.byKey.get(key);
    if (e?.deleting.delete(uid)) e.dels--;
  }

  /** The controlling object is gone. */
  forget(key: string): void {
    this.byKey.delete(key);
  }
}
