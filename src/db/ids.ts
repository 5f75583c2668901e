/**
 * Prefixed, time-sortable ids: `<prefix>_` + 10 Crockford base32 characters of milliseconds +
 * 16 of randomness (the ULID layout). Sorting by id sorts by creation time, which is what the
 * cursor pagination relies on.
 */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix = "org" | "usr" | "svc" | "tok" | "ps" | "grp" | "site" | "evt" | "whk" | "dlv";

/**
 * Monotonic within an isolate (the ULID spec's monotonic mode): ids made in the same
 * millisecond get the previous random part plus one, so they still sort in creation order,
 * e.g. the events of one batch or members created back to back. Ids for other times (a `now`
 * in the past, another millisecond) get fresh randomness.
 */
let lastTime = -1;
const lastRandom = new Uint8Array(16);

function nextRandom(now: number): Uint8Array {
  if (now === lastTime) {
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      lastRandom[i] = (lastRandom[i]! + 1) % 32;
      if (lastRandom[i] !== 0) break;
    }
    return lastRandom;
  }
  crypto.getRandomValues(lastRandom);
  for (let i = 0; i < lastRandom.length; i++) lastRandom[i] = lastRandom[i]! % 32;
  // Room to count up within this millisecond without wrapping.
  lastRandom[0] = lastRandom[0]! % 16;
  lastTime = now;
  return lastRandom;
}

export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = "";
  for (const digit of nextRandom(now)) rand += CROCKFORD[digit];
  return `${prefix}_${time}${rand}`;
}
