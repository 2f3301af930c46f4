import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  formatGoDuration,
  HOUR,
  MICROSECOND,
  MILLISECOND,
  MINUTE,
  parseGoDuration,
  SECOND,
} from "../../src/api/kratos/duration.js";

const MAX = (1n << 63n) - 1n;
const MIN = -(1n << 63n);

describe("parseGoDuration (Go's time.ParseDuration)", () => {
  const valid: [string, bigint][] = [
    ["1h", HOUR],
    ["1.5h", HOUR + 30n * MINUTE],
    ["90m", 90n * MINUTE],
    ["1m30s", 90n * SECOND],
    ["500ms", 500n * MILLISECOND],
    ["1ns", 1n],
    ["1us", MICROSECOND],
    ["1\u00b5s", MICROSECOND], // U+00B5 micro sign
    ["1\u03bcs", MICROSECOND], // U+03BC Greek mu
    ["0", 0n],
    ["-0", 0n],
    ["+0", 0n],
    ["0s", 0n],
    [".5s", 500n * MILLISECOND],
    ["1.s", SECOND],
    ["-1h", -HOUR],
    ["+5s", 5n * SECOND],
    ["1h0m0.5s", HOUR + 500n * MILLISECOND],
    ["3.000000001s", 3n * SECOND + 1n],
    ["1h1h", 2n * HOUR],
    ["100ms", 100n * MILLISECOND],
    ["24h", 24n * HOUR],
    ["9223372036854775807ns", MAX],
    ["2562047h47m16.854775807s", MAX],
    ["-9223372036854775808ns", MIN], // Go accepts exactly -2^63
    ["0.100000000000000000000h", 6n * MINUTE], // digits past int64 precision are read and ignored
  ];
  for (const [text, nanos] of valid) {
    test(`parses ${JSON.stringify(text)}`, () => {
      assert.equal(parseGoDuration(text), nanos);
    });
  }
  test('parses "1." followed by a unit, as in "1.h"', () => {
    assert.equal(parseGoDuration("1.h"), HOUR);
  });

  const invalid = [
    "",
    "+",
    "-",
    "1",
    "1.5",
    "00",
    ".",
    ".s",
    "-.s",
    "1d",
    "1w",
    "1H",
    "1MS",
    "1 h",
    " 1h",
    "1h ",
    "1h 30m",
    "h",
    "\u00b5s",
    "1hh",
    "1sec",
    "--1h",
    "+-1h",
    "1e3s",
    "0x10s",
    "9223372036854775808ns",
    "2562047h47m16.854775808s",
    "2562048h",
    "-9223372036854775809ns",
    "99999999999999999999h",
    "1h\u0000",
  ];
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseGoDuration(text), null);
    });
  }
});

describe("formatGoDuration (Go's Duration.String())", () => {
  const cases: [bigint, string][] = [
    [0n, "0s"],
    [HOUR, "1h0m0s"],
    [90n * SECOND, "1m30s"],
    [HOUR + 500n * MILLISECOND, "1h0m0.5s"],
    [2n * MINUTE, "2m0s"],
    [500n * MILLISECOND, "500ms"],
    [1500n, "1.5\u00b5s"],
    [1n, "1ns"],
    [999n, "999ns"],
    [MICROSECOND, "1\u00b5s"],
    [1_100_000n, "1.1ms"],
    [SECOND, "1s"],
    [-HOUR, "-1h0m0s"],
    [-500n * MILLISECOND, "-500ms"],
    [MAX, "2562047h47m16.854775807s"],
    [MIN, "-2562047h47m16.854775808s"],
  ];
  for (const [nanos, text] of cases) {
    test(`formats ${nanos}ns as ${text}`, () => {
      assert.equal(formatGoDuration(nanos), text);
    });
  }

  test("what it writes, it reads back to the same nanoseconds", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MIN, max: MAX }), (nanos) => {
        assert.equal(parseGoDuration(formatGoDuration(nanos)), nanos);
      }),
    );
  });

  test("never throws on arbitrary text, and any result is within int64", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.stringMatching(/^[+-]?([0-9]*\.?[0-9]*(ns|us|µs|μs|ms|s|m|h|d)?){1,4}$/)),
        (text) => {
          const nanos = parseGoDuration(text);
          assert.ok(nanos === null || (nanos >= MIN && nanos <= MAX));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
