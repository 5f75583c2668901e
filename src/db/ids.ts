/**
 * Prefixed, time-sortable ids: `<prefix>_` + 10 Crockford base32 characters of milliseconds +
 * 16 of randomness (the ULID layout). Sorting by id sorts by creation time, which is what the
 * cursor pagination relies on.
 */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "org" | "usr" | "svc" | "tok" | "ps" | "grp" | "site" | "evt";

export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = new Uint8Array(16);
  crypto.getRandomValues(random);
  let rand = "";
  for (const b of random) rand += CROCKFORD[b % 32];
  return `${prefix}_${time}${rand}`;
}
