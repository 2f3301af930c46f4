import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { fixedClock } from "../src/clock.js";
import { ALPHANUMERIC, cryptoRandom, uuidv7Layout } from "../src/random.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit millisecond timestamp a v7 UUID carries in its first 12 hex digits. */
function timestampOf(uuid: string): number {
  return Number.parseInt(uuid.replaceAll("-", "").slice(0, 12), 16);
}

describe("uuidv7", () => {
  test("has the v7 format: lower-case hex, version 7, variant 10", () => {
    const clock = fixedClock(new Date("2026-12-03T08:30:00.123Z"));
    for (let i = 0; i < 200; i++) {
      const id = cryptoRandom.uuidv7(clock.now());
      assert.match(id, V7);
      assert.equal(id.length, 36);
    }
  });

  test("carries the clock's milliseconds in its first 48 bits", () => {
    for (const at of ["1970-01-01T00:00:00.000Z", "2026-12-03T08:30:00.123Z", "9999-12-31T23:59:59.999Z"]) {
      const when = new Date(at);
      assert.equal(timestampOf(cryptoRandom.uuidv7(when)), when.getTime());
    }
  });

  test("sorts by time once the millisecond differs", () => {
    const clock = fixedClock(new Date("2026-12-03T08:30:00.000Z"));
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) {
      ids.push(cryptoRandom.uuidv7(clock.now()));
      clock.advance(1 + (i % 3) * 997); // steps of 1 ms up to about 2 s, across hex digit carries
    }
    assert.deepEqual([...ids].sort(), ids);
  });

  test("keeps the random bits of the v4 UUID it is laid over", () => {
    const v4 = randomUUID();
    const v7 = uuidv7Layout(0x0123_4567_89ab, v4);
    assert.equal(v7, `01234567-89ab-7${v4.slice(15)}`);
    assert.match(v7, V7);
  });

  test("ids made in the same millisecond still differ", () => {
    const at = new Date("2026-12-03T08:30:00.000Z");
    const ids = new Set(Array.from({ length: 1000 }, () => cryptoRandom.uuidv7(at)));
    assert.equal(ids.size, 1000);
  });

  test("refuses a timestamp that does not fit 48 bits", () => {
    assert.throws(() => uuidv7Layout(-1, randomUUID()), RangeError);
    assert.throws(() => uuidv7Layout(2 ** 48, randomUUID()), RangeError);
    assert.throws(() => uuidv7Layout(1.5, randomUUID()), RangeError);
  });
});

describe("random string", () => {
  test("draws only from the alphabet, at the asked length", () => {
    const key = cryptoRandom.string(60, ALPHANUMERIC);
    assert.equal(key.length, 60);
    assert.match(key, /^[A-Za-z0-9]{60}$/);
  });

  test("draws every character of the alphabet about equally often", () => {
    // 62 characters, 62,000 draws: each expected 1,000 times; 800..1,200 is over 6 standard deviations.
    const counts = new Map<string, number>();
    for (const char of cryptoRandom.string(62_000, ALPHANUMERIC))
      counts.set(char, (counts.get(char) ?? 0) + 1);
    assert.equal(counts.size, ALPHANUMERIC.length);
    for (const [char, n] of counts) assert.ok(n > 800 && n < 1200, `${char} drawn ${n} times`);
  });
});
