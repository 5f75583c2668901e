/**
 * `load`, run once per key for the life of the isolate (a signing key imported once, an IdP's
 * metadata fetched once), forgetting a key whose promise rejects: a failed import or fetch is
 * tried again by the next caller instead of failing every caller until the isolate is recycled.
 */
export function promiseCache<A, V>(keyOf: (arg: A) => string, load: (arg: A) => Promise<V>): (arg: A) => Promise<V> {
  const entries = new Map<string, Promise<V>>();
  return (arg) => {
    const key = keyOf(arg);
    let entry = entries.get(key);
    if (!entry) {
      entry = load(arg);
      entry.catch(() => entries.delete(key));
      entries.set(key, entry);
    }
    return entry;
  };
}
