import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createIdentity as createIdentityInService } from "../../src/identities/service.js";
import { type TestApp, testApp } from "../support/app.js";
import { DIALECTS } from "../support/databases.js";
import {
  assertKratosError,
  badRequest,
  createIdentity,
  defaultTenantId,
  type JSONBody,
  NIL_UUID,
  systemAudit,
} from "./admin-support.js";

/** Identities made through the service (no HTTP per row), `count` of them. */
async function manyIdentities(rekey: TestApp, count: number): Promise<void> {
  const audit = systemAudit(defaultTenantId(rekey));
  for (let i = 0; i < count; i++) {
    await createIdentityInService(rekey.deps, audit, {
      email: `user${i}@example.com`,
      name: "",
      isActive: true,
      password: null,
      metadataPublic: null,
      metadataAdmin: null,
    });
  }
}

function nextLink(response: { headers: Record<string, unknown> }): string | null {
  const link = String(response.headers["link"]);
  const next = /<([^>]+)>; rel="next"/.exec(link);
  return next === null ? null : next[1]!;
}

for (const dialect of DIALECTS) {
  describe(`GET /admin/identities on ${dialect}`, () => {
    test("an empty page is []", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.api(
        "GET",
        "/admin/identities?page_token=ffffffff-ffff-ffff-ffff-ffffffffffff",
      );
      assert.equal(response.statusCode, 200);
      assert.equal(response.body, "[]");
      assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
    });

    test("500 identities in pages of 10 are 50 pages through rel=next, each once, ordered by id, with no total", async (t) => {
      const rekey = await testApp(t, dialect);
      await manyIdentities(rekey, 499); // and the bootstrap admin
      const seen: string[] = [];
      let url: string | null = "/admin/identities?page_size=10";
      let pages = 0;
      while (url !== null) {
        const response = await rekey.api("GET", url);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers["x-total-count"], undefined);
        const page = response.json() as JSONBody[];
        seen.push(...page.map((identity) => identity["id"] as string));
        assert.ok(!("credentials" in page[0]!), "lists leave credentials out unless asked");
        pages++;
        url = nextLink(response);
      }
      assert.equal(pages, 50);
      assert.equal(seen.length, 500);
      assert.equal(new Set(seen).size, 500);
      assert.deepEqual(seen, [...seen].sort());
    });

    test("sends the Link header of Kratos' keyset pagination, on the path as requested", async (t) => {
      const rekey = await testApp(t, dialect);
      await manyIdentities(rekey, 2);
      const first = await rekey.api("GET", "/admin/identities?page_size=2");
      const ids = (first.json() as JSONBody[]).map((identity) => identity["id"]);
      assert.equal(
        first.headers["link"],
        `</admin/identities?page_size=2&page_token=${NIL_UUID}>; rel="first",</admin/identities?page_size=2&page_token=${ids[1]}>; rel="next"`,
      );
      const last = await rekey.api(
        "GET",
        `/iam/identities?page_token=${ids[1]}&page_size=2&include_credential=password`,
      );
      assert.equal(
        last.headers["link"],
        `</iam/identities?include_credential=password&page_size=2&page_token=${NIL_UUID}>; rel="first"`,
      );
      assert.equal((last.json() as JSONBody[]).length, 1);
      assert.ok("credentials" in (last.json() as JSONBody[])[0]!, "include_credential adds the credentials");
      const defaults = await rekey.api("GET", "/admin/identities");
      assert.equal(
        defaults.headers["link"],
        `</admin/identities?page_size=250&page_token=${NIL_UUID}>; rel="first"`,
      );
    });

    test("page_size: ≤ 0 is 250, above 500 is 500, per_page stands in, and a non-integer is Go's Atoi error", async (t) => {
      const rekey = await testApp(t, dialect);
      const sizeOf = async (query: string): Promise<string> =>
        /page_size=(\d+)/.exec(
          String((await rekey.api("GET", `/admin/identities?${query}`)).headers["link"]),
        )![1]!;
      assert.equal(await sizeOf("page_size=0"), "250");
      assert.equal(await sizeOf("page_size=-3"), "250");
      assert.equal(await sizeOf("page_size=501"), "500");
      assert.equal(await sizeOf("per_page=7"), "7");
      assertKratosError(
        await rekey.api("GET", "/admin/identities?page_size=abc"),
        400,
        badRequest('strconv.Atoi: parsing "abc": invalid syntax'),
      );
      assertKratosError(
        await rekey.api("GET", "/admin/identities?page_size=99999999999999999999"),
        400,
        badRequest('strconv.Atoi: parsing "99999999999999999999": value out of range'),
      );
    });

    test("refuses a crafted page token and legacy page pagination", async (t) => {
      const rekey = await testApp(t, dialect);
      assertKratosError(
        await rekey.api("GET", "/admin/identities?page_token=abc"),
        400,
        badRequest("The page token is invalid, do not craft your own page tokens"),
      );
      assertKratosError(
        await rekey.api("GET", "/admin/identities?page=2&per_page=10"),
        400,
        badRequest("Legacy pagination is not supported. Please switch to using page_token and page_size."),
      );
    });

    test("filters by ids, refusing bad values, more than 500, and a second filter", async (t) => {
      const rekey = await testApp(t, dialect);
      const a = await createIdentity(rekey, { email: "a@example.com" });
      const b = await createIdentity(rekey, { email: "b@example.com" });
      const response = await rekey.api(
        "GET",
        `/admin/identities?ids=${b["id"]}&ids=${a["id"]}&ids=${NIL_UUID}`,
      );
      assert.deepEqual(
        (response.json() as JSONBody[]).map((identity) => identity["id"]),
        [a["id"], b["id"]].sort(),
      );
      assertKratosError(
        await rekey.api("GET", "/admin/identities?ids=not-a-uuid"),
        400,
        badRequest("Invalid UUID value `not-a-uuid` for parameter `ids`."),
      );
      const tooMany = Array.from({ length: 501 }, () => `ids=${NIL_UUID}`).join("&");
      assertKratosError(
        await rekey.api("GET", `/admin/identities?${tooMany}`),
        400,
        badRequest("The number of ids to filter must not exceed 500."),
      );
      assertKratosError(
        await rekey.api("GET", `/admin/identities?ids=${a["id"]}&credentials_identifier=a@example.com`),
        400,
        badRequest("You cannot combine multiple filters in this API"),
      );
    });

    test("credentials_identifier finds the identity by email, ignoring case, with its credentials", async (t) => {
      const rekey = await testApp(t, dialect);
      const jane = await createIdentity(
        rekey,
        { email: "jane@example.com" },
        { credentials: { password: { config: { password: "pw" } } } },
      );
      await createIdentity(rekey, { email: "janet@example.com" });
      const response = await rekey.api("GET", "/admin/identities?credentials_identifier=JANE%40example.com");
      const found = response.json() as JSONBody[];
      assert.equal(found.length, 1);
      assert.equal(found[0]!["id"], jane["id"]);
      assert.deepEqual(found[0]!["credentials"].password.identifiers, ["jane@example.com"]);
      assert.equal(
        (await rekey.api("GET", "/admin/identities?credentials_identifier=nobody@example.com")).body,
        "[]",
      );
    });

    // Found by the reliability fuzzer: PostgreSQL refuses NUL in text, and the lookup answered 500.
    test("a credentials_identifier holding NUL finds nobody: 200 [] on both prefixes", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const prefix of ["/admin", "/iam"]) {
        for (const identifier of ["%00", "jane%00%40example.com"]) {
          const response = await rekey.api(
            "GET",
            `${prefix}/identities?credentials_identifier=${identifier}`,
          );
          assert.equal(response.statusCode, 200, `${prefix} ${identifier}: ${response.body}`);
          assert.equal(response.body, "[]");
        }
      }
    });

    test("refuses an unknown include_credential value", async (t) => {
      const rekey = await testApp(t, dialect);
      assertKratosError(
        await rekey.api("GET", "/admin/identities?include_credential=hash"),
        400,
        badRequest("Invalid value `hash` for parameter `include_credential`."),
      );
    });
  });
}
