import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { aListQuery, minutesFrom, NOW, type OpenStores, orderedBy } from "../db/contract.js";
import type { ListQuery } from "../db/listing.js";
import type { Stores } from "../db/stores.js";
import type { Actor, AuditEvent, EventField, EventFilters } from "./store.js";

async function anEvent(
  stores: Stores,
  tenantId: string,
  overrides?: Partial<AuditEvent>,
): Promise<AuditEvent> {
  const event: AuditEvent = {
    id: randomUUID(),
    tenantId,
    action: "model_created",
    app: "rekey.api",
    actor: { pk: 1, username: "akadmin", email: "admin@example.com" },
    context: {},
    clientIP: "192.0.2.1",
    created: NOW,
    expires: minutesFrom(NOW, 365 * 24 * 60),
    ...overrides,
  };
  await stores.events.recordEvent(event);
  return event;
}

async function listed(
  stores: Stores,
  tenantId: string,
  filters: EventFilters,
  query?: Partial<ListQuery<EventField>>,
): Promise<string[]> {
  const page = await stores.events.listEvents(
    tenantId,
    filters,
    aListQuery<EventField>({ ordering: orderedBy("action"), ...query }),
  );
  return page.rows.map((event) => event.action);
}

/** The EventStore contract: the audit log is appended to, listed per tenant, and purged after retention. */
export function testEventStore(open: OpenStores): void {
  describe("EventStore", () => {
    test("recordEvent stores an event that findEvent reads back whole", async (t) => {
      const { stores, tenantA } = await open(t);
      const event = await anEvent(stores, tenantA, {
        action: "recovery_link_created",
        actor: { pk: 0, username: "rekey:system", email: "" },
        context: {
          target: { app: "authentik_core", model_name: "user", pk: 7, name: "jdoe" },
          expires: "2026-03-02T12:00:00Z",
        },
        clientIP: null,
      });
      assert.deepEqual(await stores.events.findEvent(tenantA, event.id), event);
      assert.equal(await stores.events.findEvent(tenantA, randomUUID()), null);
    });

    test("listEvents filters by action as a case-insensitive substring, taking % and _ literally", async (t) => {
      const { stores, tenantA } = await open(t);
      for (const action of ["login", "login_failed", "model_created", "recovery_link_created"] as const) {
        await anEvent(stores, tenantA, { action });
      }
      assert.deepEqual(await listed(stores, tenantA, { action: "LINK" }), ["recovery_link_created"]);
      assert.deepEqual(await listed(stores, tenantA, { action: "login" }), ["login", "login_failed"]);
      assert.deepEqual(await listed(stores, tenantA, { action: "_created" }), [
        "model_created",
        "recovery_link_created",
      ]);
      assert.deepEqual(await listed(stores, tenantA, { action: "lo_in" }), []);
      assert.deepEqual(await listed(stores, tenantA, { action: "mo%ed" }), []);
    });

    test("listEvents filters by client IP, username and model app, name and pk, hyphens in the pk ignored", async (t) => {
      const { stores, tenantA } = await open(t);
      const uuid = randomUUID();
      const group = {
        app: "authentik_core",
        model_name: "group",
        pk: uuid.replaceAll("-", ""),
        name: "staff",
      };
      const user = { app: "authentik_core", model_name: "user", pk: 7, name: "jdoe" };
      const tenant = { app: "authentik_tenants", model_name: "tenant", pk: "abc", name: "Acme" };
      await anEvent(stores, tenantA, { action: "model_created", context: { model: group } });
      await anEvent(stores, tenantA, {
        action: "model_updated",
        context: { model: user },
        clientIP: "198.51.100.2",
      });
      await anEvent(stores, tenantA, {
        action: "model_deleted",
        context: { model: tenant },
        clientIP: null,
        actor: { pk: 2, username: "jdoe", email: "" },
      });
      assert.deepEqual(await listed(stores, tenantA, { clientIP: "198.51.100.2" }), ["model_updated"]);
      assert.deepEqual(await listed(stores, tenantA, { username: "jdoe" }), ["model_deleted"]);
      assert.deepEqual(await listed(stores, tenantA, { username: "akadmin" }), [
        "model_created",
        "model_updated",
      ]);
      assert.deepEqual(await listed(stores, tenantA, { modelPk: uuid }), ["model_created"]);
      assert.deepEqual(await listed(stores, tenantA, { modelPk: uuid.replaceAll("-", "") }), [
        "model_created",
      ]);
      assert.deepEqual(await listed(stores, tenantA, { modelPk: "7" }), ["model_updated"]);
      assert.deepEqual(await listed(stores, tenantA, { modelName: "tenant" }), ["model_deleted"]);
      assert.deepEqual(await listed(stores, tenantA, { modelApp: "authentik_core" }), [
        "model_created",
        "model_updated",
      ]);
      assert.deepEqual(
        await listed(stores, tenantA, {
          modelApp: "authentik_core",
          modelName: "user",
          clientIP: "198.51.100.2",
        }),
        ["model_updated"],
      );
    });

    test("listEvents searches action, app, username and client IP, taking % and _ literally", async (t) => {
      const { stores, tenantA } = await open(t);
      await anEvent(stores, tenantA, {
        action: "login",
        app: "rekey.kratos",
        actor: { pk: 2, username: "a_b", email: "" },
      });
      await anEvent(stores, tenantA, {
        action: "email_sent",
        app: "rekey.mail",
        actor: { pk: 3, username: "axb", email: "" },
        clientIP: null,
      });
      await anEvent(stores, tenantA, { action: "password_set", clientIP: "203.0.113.9" });
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["KRATOS"] }), ["login"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["a_b"] }), ["login"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["113.9"] }), ["password_set"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["email_"] }), ["email_sent"]);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["%"] }), []);
      assert.deepEqual(await listed(stores, tenantA, {}, { search: ["rekey", "mail"] }), ["email_sent"]);
      const page = await stores.events.listEvents(tenantA, {}, aListQuery({ search: ["rekey"], limit: 2 }));
      assert.deepEqual({ total: page.total, rows: page.rows.length }, { total: 3, rows: 2 });
    });

    test("listEvents orders by each field with the id as tie-breaker and nulls last, and pages", async (t) => {
      const { stores, tenantA } = await open(t);
      const id = (n: number): string => `00000000-0000-4000-8000-00000000000${n}`;
      const actor = (username: string): Actor => ({ pk: 2, username, email: "" });
      await anEvent(stores, tenantA, {
        id: id(1),
        action: "login",
        app: "rekey.kratos",
        actor: actor("b"),
        clientIP: "192.0.2.2",
        created: minutesFrom(NOW, 1),
      });
      await anEvent(stores, tenantA, {
        id: id(2),
        action: "email_sent",
        app: "rekey.mail",
        actor: actor("a"),
        clientIP: null,
        created: NOW,
      });
      await anEvent(stores, tenantA, {
        id: id(3),
        action: "password_set",
        app: "rekey.api",
        actor: actor("b"),
        clientIP: "192.0.2.1",
        created: NOW,
      });
      async function order(...fields: (EventField | `-${EventField}`)[]): Promise<string[]> {
        const page = await stores.events.listEvents(
          tenantA,
          {},
          aListQuery<EventField>({ ordering: orderedBy(...fields) }),
        );
        return page.rows.map((event) => event.id.slice(-1));
      }
      assert.deepEqual(await order("-created"), ["1", "2", "3"]);
      assert.deepEqual(await order("created"), ["2", "3", "1"]);
      assert.deepEqual(await order("action"), ["2", "1", "3"]);
      assert.deepEqual(await order("app"), ["3", "1", "2"]);
      assert.deepEqual(await order("-username"), ["1", "3", "2"]);
      assert.deepEqual(await order("client_ip"), ["3", "1", "2"]);
      assert.deepEqual(await order("-client_ip"), ["2", "1", "3"]);
      const page = await stores.events.listEvents(
        tenantA,
        {},
        aListQuery<EventField>({ ordering: orderedBy("-created"), offset: 2, limit: 5 }),
      );
      assert.deepEqual(
        { total: page.total, ids: page.rows.map((event) => event.id) },
        { total: 3, ids: [id(3)] },
      );
    });

    test("purgeExpiredEvents deletes the events of every tenant whose retention has passed, and counts them", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const gone = await anEvent(stores, tenantA, { expires: minutesFrom(NOW, -1) });
      const goneNow = await anEvent(stores, tenantB, { expires: NOW });
      const kept = await anEvent(stores, tenantA, { expires: minutesFrom(NOW, 1) });
      assert.equal(await stores.events.purgeExpiredEvents(NOW), 2);
      assert.equal(await stores.events.findEvent(tenantA, gone.id), null);
      assert.equal(await stores.events.findEvent(tenantB, goneNow.id), null);
      assert.deepEqual(await stores.events.findEvent(tenantA, kept.id), kept);
      assert.equal(await stores.events.purgeExpiredEvents(NOW), 0);
    });

    test("an event is not visible from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const event = await anEvent(stores, tenantA, {
        context: { model: { app: "authentik_core", model_name: "user", pk: 7, name: "jdoe" } },
      });
      assert.equal(await stores.events.findEvent(tenantB, event.id), null);
      assert.deepEqual(await stores.events.listEvents(tenantB, {}, aListQuery()), { total: 0, rows: [] });
      assert.deepEqual(
        await stores.events.listEvents(
          tenantB,
          { modelPk: "7", username: "akadmin" },
          aListQuery({ search: ["model"] }),
        ),
        {
          total: 0,
          rows: [],
        },
      );
    });
  });
}
