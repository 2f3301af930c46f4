import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { describe, test } from "node:test";
import { hashPassword, verifyPassword } from "../../src/users/passwords.js";

describe("password hashing", () => {
  test("many hashes and verifies at once, more than there are cores, each get their own answer", async () => {
    const hash = await hashPassword("correct horse battery staple");
    const many = availableParallelism() * 3;
    const answers = await Promise.all(
      Array.from({ length: many }, (_, i) =>
        verifyPassword(hash, i % 2 === 0 ? "correct horse battery staple" : `wrong ${i}`),
      ),
    );
    assert.deepEqual(
      answers,
      Array.from({ length: many }, (_, i) => i % 2 === 0),
    );
  });

  test("a malformed stored hash is a wrong password and gives its turn back", {
    timeout: 30_000,
  }, async () => {
    // More failures than turns: if a failure kept its turn, the verify after them would never start.
    const failures = await Promise.all(
      Array.from({ length: availableParallelism() * 2 }, () => verifyPassword("not-a-hash", "anything")),
    );
    assert.ok(failures.every((matches) => matches === false));
    const hash = await hashPassword("still works");
    assert.equal(await verifyPassword(hash, "still works"), true);
  });
});
