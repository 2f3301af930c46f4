import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import { ADMIN_TOKEN, createTokenFor, createUser, testApp } from "../support/app.js";

const NOT_FOUND = { detail: "Not found." };
const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

for (const dialect of DIALECTS) {
  describe(`/api/v3 routing on ${dialect}`, () => {
    test("an unknown path is a JSON 404 'Not found.'", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const url of [
        "/api/v3/nothing/",
        "/api/v3/core/nothing/",
        "/api/v3/core/users/1/nothing/",
        "/api/v3/core/users/me/x/",
      ]) {
        const response = await rekey.api("GET", url);
        assert.equal(response.statusCode, 404, url);
        assert.match(response.headers["content-type"] as string, /^application\/json/);
        assert.deepEqual(response.json(), NOT_FOUND, url);
      }
      const unauthenticated = await rekey.api("GET", "/api/v3/nothing/", undefined, { token: null });
      assert.deepEqual(unauthenticated.json(), NOT_FOUND);
    });

    test("a path without its trailing slash is a 404, never a redirect", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const [method, url] of [
        ["GET", "/api/v3/core/users"],
        ["GET", "/api/v3/core/users/me"],
        ["POST", "/api/v3/core/users"],
        ["GET", "/api/v3/core/users/1"],
        ["GET", "/api/v3/core/groups"],
        ["GET", "/api/v3/events/events"],
      ] as const) {
        const response = await rekey.api(
          method,
          url,
          method === "POST" ? { username: "x", name: "x" } : undefined,
        );
        assert.equal(response.statusCode, 404, `${method} ${url}`);
        assert.equal(response.headers["location"], undefined);
        assert.deepEqual(response.json(), NOT_FOUND);
      }
      assert.equal(
        (await rekey.api("GET", "/api/v3/core/users/?username=x")).json().pagination.count,
        0,
        "nothing was created",
      );
    });

    test("a known path with the wrong method is 405 with an Allow header", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.api("GET", "/api/v3/core/users/1/set_password/");
      assert.equal(response.statusCode, 405);
      assert.deepEqual(response.json(), { detail: 'Method "GET" not allowed.' });
      const allow = String(response.headers["allow"])
        .split(",")
        .map((method) => method.trim());
      assert.ok(allow.includes("POST"), String(response.headers["allow"]));
      assert.ok(!allow.includes("GET"));
      const put = await rekey.api("PUT", "/api/v3/core/users/", { username: "x", name: "x" });
      assert.equal(put.statusCode, 405);
      assert.deepEqual(put.json(), { detail: 'Method "PUT" not allowed.' });
      const putAllow = String(put.headers["allow"])
        .split(",")
        .map((method) => method.trim());
      assert.ok(putAllow.includes("GET") && putAllow.includes("POST"), String(put.headers["allow"]));
      const recovery = await rekey.api("DELETE", "/api/v3/events/events/");
      assert.deepEqual(recovery.json(), { detail: 'Method "DELETE" not allowed.' });
    });
  });

  describe(`/api/v3 request bodies on ${dialect}`, () => {
    test("a non-JSON body is 415 naming its media type", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.api("POST", "/api/v3/core/users/", "username=x", {
        headers: { "content-type": "text/plain" },
      });
      assert.equal(response.statusCode, 415);
      assert.deepEqual(response.json(), { detail: 'Unsupported media type "text/plain" in request.' });
      const form = await rekey.api("POST", "/api/v3/core/users/", "username=x&name=x", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      assert.equal(form.statusCode, 415);
      assert.deepEqual(form.json(), {
        detail: 'Unsupported media type "application/x-www-form-urlencoded" in request.',
      });
    });

    test("malformed JSON is 400 with the parser's message after 'JSON parse error - '", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const body of ['{"username": ', "{username: 'x'}", "[1,]"]) {
        const response = await rekey.api("POST", "/api/v3/core/users/", body);
        assert.equal(response.statusCode, 400, body);
        const detail = response.json().detail as string;
        assert.ok(detail.startsWith("JSON parse error - "), detail);
        assert.ok(detail.length > "JSON parse error - ".length, detail);
        assert.deepEqual(Object.keys(response.json()), ["detail"]);
      }
    });

    test("a JSON value that is not an object is named with its Python type", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const [body, type] of [
        ["[]", "list"],
        ['[{"username":"x"}]', "list"],
        ['"text"', "str"],
        ["42", "int"],
        ["1.5", "float"],
        ["true", "bool"],
      ] as const) {
        for (const [method, url] of [
          ["POST", "/api/v3/core/users/"],
          ["PATCH", "/api/v3/core/users/1/"],
          ["POST", "/api/v3/core/groups/"],
        ] as const) {
          const response = await rekey.api(method, url, body);
          assert.equal(response.statusCode, 400, `${method} ${url} ${body}`);
          assert.deepEqual(response.json(), {
            non_field_errors: [`Invalid data. Expected a dictionary, but got ${type}.`],
          });
        }
      }
    });

    test("unknown body fields and unknown query parameters are ignored", async (t) => {
      const rekey = await testApp(t, dialect);
      const created = await rekey.api("POST", "/api/v3/core/users/?foo=bar", {
        username: "jdoe",
        name: "Jane",
        is_staff: true,
        password: "not-a-field-here",
        unknown: { nested: [1] },
      });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json().is_staff, undefined);
      assert.equal(created.json().unknown, undefined);
      const hash = await rekey.deps.persistence.stores.users.passwordHash(
        (await rekey.deps.persistence.stores.tenants.defaultTenant()).id,
        created.json().pk,
      );
      assert.equal(hash, null, "a password in the create body is not a field and is not used");
      const listed = await rekey.api("GET", "/api/v3/core/users/?foo=bar&username=jdoe&format=api");
      assert.equal(listed.statusCode, 200);
      assert.equal(listed.json().pagination.count, 1);
    });
  });

  describe(`/api/v3 check order on ${dialect}`, () => {
    test("authentication comes before body validation", async (t) => {
      const rekey = await testApp(t, dialect);
      const invalid = { username: 5, name: ["x"] };
      const anonymous = await rekey.api("POST", "/api/v3/core/users/", invalid, { token: null });
      assert.equal(anonymous.statusCode, 403);
      assert.deepEqual(anonymous.json(), { detail: "Authentication credentials were not provided." });
      const wrongKey = await rekey.api("POST", "/api/v3/core/users/", invalid, { token: "wrong" });
      assert.deepEqual(wrongKey.json(), { detail: "Token invalid/expired" });
      const notArray = await rekey.api("POST", "/api/v3/core/groups/", "[1]", { token: null });
      assert.equal(notArray.statusCode, 403);
    });

    test("authentication and lookup come before parsing the body, as DRF parses lazily", async (t) => {
      const rekey = await testApp(t, dialect);
      const malformed = await rekey.api("POST", "/api/v3/core/users/", "{bad", { token: null });
      assert.equal(malformed.statusCode, 403, malformed.body);
      assert.deepEqual(malformed.json(), { detail: "Authentication credentials were not provided." });
      const text = await rekey.api("POST", "/api/v3/core/users/", "x", {
        token: null,
        headers: { "content-type": "text/plain" },
      });
      assert.equal(text.statusCode, 403, text.body);
      const unknownUser = await rekey.api("PUT", "/api/v3/core/users/999/", "{bad");
      assert.equal(unknownUser.statusCode, 404, unknownUser.body);
      assert.deepEqual(unknownUser.json(), { detail: "No User matches the given query." });
    });

    test("route permission comes before lookup and validation", async (t) => {
      const rekey = await testApp(t, dialect);
      const jdoe = await createUser(rekey, "jdoe");
      const key = await createTokenFor(rekey, jdoe, "jdoe-api");
      const response = await rekey.api("PUT", "/api/v3/core/users/999/", { username: 5 }, { token: key });
      assert.equal(response.statusCode, 403);
      assert.deepEqual(response.json(), { detail: "You do not have permission to perform this action." });
    });

    test("object lookup comes before body validation", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const [method, url] of [
        ["PUT", "/api/v3/core/users/999/"],
        ["PATCH", "/api/v3/core/users/999/"],
        ["POST", "/api/v3/core/users/999/set_password/"],
      ] as const) {
        const response = await rekey.api(method, url, { username: 5, password: 7 });
        assert.equal(response.statusCode, 404, `${method} ${url}`);
        assert.deepEqual(response.json(), { detail: "No User matches the given query." });
      }
      const group = await rekey.api("PUT", "/api/v3/core/groups/0c6f7a0e-1111-4222-8333-944455556666/", {
        name: 1,
      });
      assert.deepEqual(group.json(), { detail: "No Group matches the given query." });
    });
  });

  describe(`/api/v3/schema/ and /api/v3/ on ${dialect}`, () => {
    test("the schema is YAML by default", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.app.inject({ url: "/api/v3/schema/" });
      assert.equal(response.statusCode, 200);
      assert.match(response.headers["content-type"] as string, /yaml/);
      assert.match(response.body, /^openapi: 3\./m);
      assert.match(response.body, /^ {2}\/core\/users\/:$/m);
    });

    test("the schema is JSON with ?format=json or Accept: application/json", async (t) => {
      const rekey = await testApp(t, dialect);
      for (const request of [
        { url: "/api/v3/schema/?format=json" },
        { url: "/api/v3/schema/", headers: { accept: "application/json" } },
      ]) {
        const response = await rekey.app.inject(request);
        assert.equal(response.statusCode, 200);
        assert.match(response.headers["content-type"] as string, /^application\/json/);
        const document = JSON.parse(response.body);
        assert.match(document.openapi, /^3\./);
        assert.ok("/core/users/" in document.paths, Object.keys(document.paths).join(" "));
        assert.ok("/core/users/{id}/set_password/" in document.paths, Object.keys(document.paths).join(" "));
        assert.ok("get" in document.paths["/core/users/"] && "post" in document.paths["/core/users/"]);
      }
    });

    test("/api/v3/ is an HTML page linking to the schema", async (t) => {
      const rekey = await testApp(t, dialect);
      const response = await rekey.app.inject({ url: "/api/v3/", headers: bearer });
      assert.equal(response.statusCode, 200);
      assert.match(response.headers["content-type"] as string, /^text\/html/);
      assert.match(response.body, /^<!doctype html>/i);
      assert.ok(response.body.includes('href="/api/v3/schema/"'));
      assert.ok(response.body.includes("/core/users/"));
    });
  });
}
