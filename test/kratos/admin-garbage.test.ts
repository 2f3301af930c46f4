import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { LightMyRequestResponse } from "fastify";
import { ADMIN_TOKEN, type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import { createIdentity } from "./admin-support.js";

/**
 * Whatever arrives on an admin route, the answer is a success or a Kratos-shaped 4xx: JSON with an
 * `error` object whose numeric `code` is the status. Never a 5xx.
 */

const RUNS = 60;

function assertKratosShaped(response: LightMyRequestResponse, what: string): void {
  assert.ok(response.statusCode < 500, `${what} → ${response.statusCode} ${response.body}`);
  if (response.statusCode >= 400) {
    const body = JSON.parse(response.body) as { error?: { code?: unknown } };
    assert.equal(typeof body.error?.code, "number", `${what} → ${response.body}`);
    assert.equal(body.error?.code, response.statusCode, what);
  }
}

const printable = fc.stringMatching(/^[ -~]{0,40}$/);
const contentTypes = fc.oneof(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
  ),
  printable,
);
const goDurations = fc.oneof(
  fc.stringMatching(/^[+-]?([0-9]{0,25}\.?[0-9]{0,25}(ns|us|µs|μs|ms|s|m|h|d|H)?){0,4}$/),
  fc.string(),
  fc.constantFrom(
    "0",
    "-0",
    "1h",
    "-1h",
    "9223372036854775807ns",
    "9223372036854775808ns",
    "-9223372036854775808ns",
    "2562047h",
    "1e9s",
  ),
);
const identityIds = fc.oneof(
  fc.uuid(),
  fc.string(),
  fc.constantFrom(
    "00000000-0000-0000-0000-000000000000",
    "abc",
    "{0c6f7a0e-3b1d-4d8e-9a55-5d1f3c2b7e10}",
    "0c6f7a0e3b1d4d8e9a555d1f3c2b7e10",
  ),
);
const jsonish = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      identity_id: fc.oneof(identityIds, fc.jsonValue()),
      expires_in: fc.oneof(goDurations, fc.jsonValue()),
      flow_type: fc.oneof(fc.constantFrom("api", "browser", "native", ""), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);
const bodies = fc.oneof(
  jsonish.map((value) => JSON.stringify(value) ?? ""),
  fc.string(),
  fc.constant(""),
);

function post(
  rekey: TestApp,
  url: string,
  payload: string,
  contentType: string,
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (contentType !== "") headers["content-type"] = contentType;
  return rekey.app.inject({ method: "POST", url, payload, headers });
}

for (const dialect of DIALECTS) {
  describe(`admin routes never answer 5xx to garbage on ${dialect}`, () => {
    test("POST /admin/recovery/code and /link: bodies, content types, durations and identity ids", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "target@example.com" });
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("/admin/recovery/code", "/iam/recovery/link", "/admin/recovery/link"),
          bodies,
          contentTypes,
          async (url, payload, contentType) => {
            assertKratosShaped(
              await post(rekey, url, payload, contentType),
              `${url} ${contentType} ${payload}`,
            );
          },
        ),
        { numRuns: RUNS },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("/admin/recovery/code", "/admin/recovery/link"),
          goDurations,
          fc.constantFrom("api", "browser", "native", undefined),
          async (url, expiresIn, flowType) => {
            const payload = JSON.stringify({
              identity_id: identity["id"],
              expires_in: expiresIn,
              flow_type: flowType,
            });
            assertKratosShaped(await post(rekey, url, payload, "application/json"), `${url} ${payload}`);
          },
        ),
        { numRuns: RUNS },
      );
    });

    test("POST /admin/identities: arbitrary bodies and content types", async (t) => {
      const rekey = await testApp(t, dialect);
      const identityBodies = fc.oneof(
        bodies,
        fc
          .record(
            {
              schema_id: fc.oneof(fc.constant("default"), fc.jsonValue()),
              traits: fc.oneof(
                fc.record(
                  { email: fc.oneof(fc.emailAddress(), fc.jsonValue()), name: fc.jsonValue() },
                  { requiredKeys: [] },
                ),
                fc.jsonValue(),
              ),
              state: fc.oneof(fc.constantFrom("active", "inactive"), fc.jsonValue()),
              credentials: fc.jsonValue(),
              metadata_public: fc.jsonValue(),
              external_id: fc.jsonValue(),
            },
            { requiredKeys: [] },
          )
          .map((value) => JSON.stringify(value)),
      );
      await fc.assert(
        fc.asyncProperty(identityBodies, contentTypes, async (payload, contentType) => {
          assertKratosShaped(
            await post(rekey, "/admin/identities", payload, contentType),
            `${contentType} ${payload}`,
          );
        }),
        { numRuns: RUNS },
      );
    });

    test("identity routes: arbitrary ids, credential types, queries and patches", async (t) => {
      const rekey = await testApp(t, dialect);
      const identity = await createIdentity(rekey, { email: "patched@example.com" });
      const queryKeys = fc.constantFrom(
        "page_size",
        "per_page",
        "page",
        "page_token",
        "ids",
        "credentials_identifier",
        "include_credential",
        "other",
      );
      const queries = fc
        .array(fc.tuple(queryKeys, fc.oneof(fc.string(), fc.uuid(), fc.integer().map(String))), {
          maxLength: 4,
        })
        .map((pairs) => new URLSearchParams(pairs).toString());
      await fc.assert(
        fc.asyncProperty(queries, fc.constantFrom("/admin", "/iam"), async (query, prefix) => {
          assertKratosShaped(await rekey.api("GET", `${prefix}/identities?${query}`), query);
        }),
        { numRuns: RUNS },
      );
      await fc.assert(
        fc.asyncProperty(
          identityIds,
          fc.constantFrom("GET", "DELETE"),
          fc.oneof(fc.constant(""), fc.string()),
          async (id, method, type) => {
            const url =
              type === ""
                ? `/admin/identities/${encodeURIComponent(id)}`
                : `/admin/identities/${encodeURIComponent(id)}/credentials/${encodeURIComponent(type)}`;
            assertKratosShaped(await rekey.api(method, url), `${method} ${url}`);
          },
        ),
        { numRuns: RUNS },
      );
      const paths = fc.oneof(
        fc.constantFrom(
          "/state",
          "/traits",
          "/traits/email",
          "/traits/name",
          "/metadata_public",
          "/metadata_admin",
          "/verifiable_addresses/0/verified",
          "/verifiable_addresses/-",
          "/schema_id",
          "",
          "/",
          "/id",
          "/credentials/x",
          "/traits/~2",
        ),
        fc.string(),
      );
      const operation = fc.record(
        {
          op: fc.oneof(fc.constantFrom("add", "remove", "replace", "move"), fc.jsonValue()),
          path: fc.oneof(paths, fc.jsonValue()),
          value: fc.jsonValue(),
        },
        { requiredKeys: [] },
      );
      const patches = fc.oneof(
        fc.array(operation, { maxLength: 3 }).map((value) => JSON.stringify(value)),
        bodies,
      );
      await fc.assert(
        fc.asyncProperty(
          patches,
          fc.oneof(fc.constant(identity["id"] as string), identityIds),
          async (payload, id) => {
            const response = await rekey.app.inject({
              method: "PATCH",
              url: `/admin/identities/${encodeURIComponent(id)}`,
              payload,
              headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
            });
            assertKratosShaped(response, `${id} ${payload}`);
          },
        ),
        { numRuns: RUNS * 2 },
      );
    });
  });
}
