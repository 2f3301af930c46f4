// SecretBox (src/crypto/secrets.ts): AES-256-GCM with nonces cut from a shared CSPRNG draw. Across
// many seals, more than one draw's worth, no nonce repeats and every sealed value opens again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SecretBox } from "../../src/crypto/secrets.js";

test("nonces never repeat across pool refills, and every sealed secret opens", () => {
  const box = new SecretBox(["first-secret-of-at-least-32-characters"], "rekey/test/v1");
  const nonces = new Set<string>();
  const count = 2000; // about eight pools of 256 nonces
  for (let i = 0; i < count; i++) {
    const plaintext = `key-${i}`;
    const { sealed, secretIndex } = box.seal(plaintext);
    nonces.add(Buffer.from(sealed, "base64").subarray(0, 12).toString("hex"));
    assert.equal(box.open(sealed, secretIndex), plaintext);
  }
  assert.equal(nonces.size, count);
});

test("a sealed secret is still readable after later seals replaced the nonce pool", () => {
  const box = new SecretBox(["first-secret-of-at-least-32-characters"], "rekey/test/v1");
  const early = box.seal("early");
  for (let i = 0; i < 600; i++) box.seal("filler");
  assert.equal(box.open(early.sealed, early.secretIndex), "early");
});
