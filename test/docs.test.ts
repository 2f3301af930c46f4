import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { serverNodeFlags } from "../bench/lib/children.js";
import { SETTINGS } from "../src/config.js";

test("every setting is documented in the README with its name", () => {
  const readme = readFileSync("README.md", "utf8");
  for (const setting of SETTINGS) {
    assert.ok(readme.includes(`\`${setting.name}\``), `${setting.name} is missing from README.md`);
  }
});

test("every error code of the catalogue is documented in docs/errors.md", () => {
  const catalogue = readFileSync("src/errors.ts", "utf8");
  const documented = readFileSync("docs/errors.md", "utf8");
  const codes = [...catalogue.matchAll(/readonly code = "([a-z_]+)"/g)].map((match) => match[1]!);
  assert.ok(codes.length > 10);
  for (const code of codes) {
    assert.ok(documented.includes(`\`${code}\``), `${code} is missing from docs/errors.md`);
  }
});

test("npm start and the rekey bin start node with the same flags", () => {
  const fromStart = serverNodeFlags(".").join(" ");
  const shebang = readFileSync("bin/rekey.js", "utf8").split("\n")[0]!;
  const fromShebang = /^#!\/usr\/bin\/env -S node ?(.*)$/.exec(shebang)?.[1]?.trim();
  assert.ok(fromStart !== "", "npm start gives node no flags");
  assert.equal(fromShebang, fromStart);
});
