import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { aListQuery, minutesFrom, NOW, type OpenStores, orderedBy } from "../db/contract.js";
import type { ListQuery } from "../db/listing.js";
import type { Stores } from "../db/stores.js";
import type {
  Group,
  GroupField,
  GroupFilters,
  NewGroup,
  NewUser,
  User,
  UserField,
  UserFilters,
} from "./store.js";

export function aNewUser(username: string, overrides?: Partial<NewUser>): NewUser {
  return {
    uuid: randomUUID(),
    username,
    name: username,
    email: `${username}@example.com`,
    isActive: true,
    lastLogin: null,
    attributes: {},
    path: "users",
    type: "internal",
    groupIds: [],
    ...overrides,
  };
}

/** Creates a user that must not clash; `options.now` is its join time (default NOW). */
export async function aUser(
  stores: Stores,
  tenantId: string,
  username: string,
  options?: { user?: Partial<NewUser>; now?: Date },
): Promise<User> {
  const user = await stores.users.createUser(
    tenantId,
    aNewUser(username, options?.user),
    options?.now ?? NOW,
  );
  assert.notEqual(user, null, `createUser ${username}`);
  return user!;
}

export async function aGroup(
  stores: Stores,
  tenantId: string,
  name: string,
  overrides?: Partial<NewGroup>,
): Promise<Group> {
  const group = await stores.groups.createGroup(tenantId, {
    uuid: randomUUID(),
    name,
    isSuperuser: false,
    attributes: {},
    userIds: [],
    ...overrides,
  });
  assert.notEqual(group, null, `createGroup ${name}`);
  return group!;
}

async function listedUsers(
  stores: Stores,
  tenantId: string,
  filters: UserFilters,
  query?: Partial<ListQuery<UserField>>,
): Promise<string[]> {
  const page = await stores.users.listUsers(
    tenantId,
    filters,
    aListQuery<UserField>({ ordering: orderedBy("username"), ...query }),
  );
  return page.rows.map((user) => user.username);
}

async function listedGroups(
  stores: Stores,
  tenantId: string,
  filters: GroupFilters,
  query?: Partial<ListQuery<GroupField>>,
): Promise<string[]> {
  const page = await stores.groups.listGroups(
    tenantId,
    filters,
    aListQuery<GroupField>({ ordering: orderedBy("name"), ...query }),
  );
  return page.rows.map((group) => group.name);
}

/** The UserStore contract: users, their groups, passwords and superuser counts, each within one tenant. */
export function testUserStore(open: OpenStores): void {
  describe("UserStore", () => {
    test("createUser stores every field and answers the user with its groups ordered by name", async (t) => {
      const { stores, tenantA } = await open(t);
      const zeta = await aGroup(stores, tenantA, "zeta", { attributes: { quota: 2 } });
      const alpha = await aGroup(stores, tenantA, "alpha", { isSuperuser: true });
      const input = aNewUser("jdoe", {
        name: "Jane Doe",
        email: "jane@example.com",
        isActive: false,
        lastLogin: minutesFrom(NOW, -5),
        attributes: { nested: { list: [1, "two"] } },
        path: "users/staff",
        type: "service_account",
        groupIds: [zeta.id, alpha.id],
        metadataPublic: { plan: "pro", seats: [1, 2] },
      });
      const user = await stores.users.createUser(tenantA, input, NOW);
      assert.ok(user !== null && Number.isInteger(user.id));
      assert.deepEqual(user, {
        id: user.id,
        tenantId: tenantA,
        uuid: input.uuid,
        username: "jdoe",
        name: "Jane Doe",
        email: "jane@example.com",
        emailVerified: false,
        isActive: false,
        lastLogin: minutesFrom(NOW, -5),
        dateJoined: NOW,
        passwordChangeDate: NOW,
        lastUpdated: NOW,
        attributes: { nested: { list: [1, "two"] } },
        path: "users/staff",
        type: "service_account",
        groups: [
          { id: alpha.id, uuid: alpha.uuid, name: "alpha", isSuperuser: true, attributes: {} },
          { id: zeta.id, uuid: zeta.uuid, name: "zeta", isSuperuser: false, attributes: { quota: 2 } },
        ],
        stateChangedAt: null,
        emailVerifiedAt: null,
        metadataPublic: { plan: "pro", seats: [1, 2] },
        metadataAdmin: null,
      });
      assert.deepEqual(await stores.users.findUser(tenantA, user.id), user);
      assert.deepEqual(await stores.users.findUserByUsername(tenantA, "jdoe"), user);
    });

    test("createUser answers null when the username is taken in the tenant; another tenant may use it", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const first = await aUser(stores, tenantA, "jdoe");
      assert.equal(await stores.users.createUser(tenantA, aNewUser("jdoe"), NOW), null);
      assert.equal((await stores.users.listUsers(tenantA, {}, aListQuery())).total, 1);
      const onB = await aUser(stores, tenantB, "jdoe");
      assert.notEqual(onB.id, first.id);
    });

    test("createUser stores a repeated group id once", async (t) => {
      const { stores, tenantA } = await open(t);
      const group = await aGroup(stores, tenantA, "staff");
      const user = await aUser(stores, tenantA, "jdoe", { user: { groupIds: [group.id, group.id] } });
      assert.deepEqual(
        user.groups.map((summary) => summary.name),
        ["staff"],
      );
    });

    test("findUserByUsername matches the username exactly, case included; unknown users are null", async (t) => {
      const { stores, tenantA } = await open(t);
      const user = await aUser(stores, tenantA, "jdoe");
      assert.equal(await stores.users.findUserByUsername(tenantA, "JDoe"), null);
      assert.equal(await stores.users.findUserByUsername(tenantA, "jdo"), null);
      assert.equal(await stores.users.findUser(tenantA, user.id + 1000), null);
    });

    test("findUsers answers the tenant's users among the ids, keyed by id, ignoring unknown and repeated ids", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const group = await aGroup(stores, tenantA, "staff");
      const one = await aUser(stores, tenantA, "one", { user: { groupIds: [group.id] } });
      const two = await aUser(stores, tenantA, "two");
      const other = await aUser(stores, tenantB, "other");
      const found = await stores.users.findUsers(tenantA, [two.id, one.id, one.id, other.id, 9999]);
      assert.deepEqual([...found.keys()].sort(), [one.id, two.id].sort());
      assert.deepEqual(found.get(one.id), one);
      assert.deepEqual(found.get(two.id), two);
      assert.equal((await stores.users.findUsers(tenantA, [])).size, 0);
    });

    test("listUsers filters by each list field; an empty list filters nothing", async (t) => {
      const { stores, tenantA } = await open(t);
      const admins = await aGroup(stores, tenantA, "admins", { isSuperuser: true });
      const ann = await aUser(stores, tenantA, "ann", {
        user: { name: "Ann", path: "users/a", groupIds: [admins.id] },
      });
      await aUser(stores, tenantA, "bob", { user: { name: "Bob", type: "external", isActive: false } });
      await aUser(stores, tenantA, "cat", { user: { name: "Cat", email: "cat@example.org" } });
      assert.deepEqual(await listedUsers(stores, tenantA, { username: ["ann", "cat", "nobody"] }), [
        "ann",
        "cat",
      ]);
      assert.deepEqual(await listedUsers(stores, tenantA, { username: [] }), ["ann", "bob", "cat"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { email: ["cat@example.org"] }), ["cat"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { name: ["Bob", "Ann"] }), ["ann", "bob"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { uuid: [ann.uuid] }), ["ann"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { path: ["users/a"] }), ["ann"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { type: ["external", "service_account"] }), [
        "bob",
      ]);
      assert.deepEqual(await listedUsers(stores, tenantA, { isActive: true }), ["ann", "cat"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { isActive: false }), ["bob"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { isSuperuser: true }), ["ann"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { isSuperuser: false }), ["bob", "cat"]);
      assert.deepEqual(await listedUsers(stores, tenantA, { name: ["Ann", "Bob"], isActive: true }), ["ann"]);
      const page = await stores.users.listUsers(tenantA, { isActive: true }, aListQuery({ limit: 1 }));
      assert.equal(page.total, 2);
      assert.equal(page.rows.length, 1);
    });

    test("listUsers searches username, name and email case-insensitively, every term matching", async (t) => {
      const { stores, tenantA } = await open(t);
      await aUser(stores, tenantA, "jdoe", { user: { name: "Jane Doe", email: "jane@corp.example" } });
      await aUser(stores, tenantA, "rroe", { user: { name: "Richard Roe", email: "richard@example.com" } });
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["JDOE"] }), ["jdoe"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["roe"] }), ["rroe"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["CORP"] }), ["jdoe"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["example"] }), ["jdoe", "rroe"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["example", "jane"] }), ["jdoe"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["jane", "richard"] }), []);
      const page = await stores.users.listUsers(tenantA, {}, aListQuery({ search: ["example"], limit: 1 }));
      assert.equal(page.total, 2);
    });

    test("listUsers finds an email by search whatever the case on either side", async (t) => {
      const { stores, tenantA } = await open(t);
      const user = await aUser(stores, tenantA, "jdoe", { user: { email: "Jane.Doe@Example.COM" } });
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["jane.doe@example.com"] }), [
        "jdoe",
      ]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["JANE.DOE@EXAMPLE.COM"] }), [
        "jdoe",
      ]);
      await stores.users.updateUser(tenantA, user.id, { email: "JANE@CORP.EXAMPLE" }, NOW);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["jane@corp"] }), ["jdoe"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["example.com"] }), []);
    });

    test("listUsers folds the case of non-ASCII letters in a search", async (t) => {
      const { stores, tenantA } = await open(t);
      await aUser(stores, tenantA, "joerg", { user: { name: "JÖRG ÆRØ", email: "" } });
      await aUser(stores, tenantA, "jorg", { user: { name: "JORG AERO", email: "" } });
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["jörg"] }), ["joerg"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["Ærø"] }), ["joerg"]);
    });

    test("listUsers takes % _ and \\ in a search term literally", async (t) => {
      const { stores, tenantA } = await open(t);
      await aUser(stores, tenantA, "fifty", { user: { name: "50% off", email: "" } });
      await aUser(stores, tenantA, "five-hundred", { user: { name: "500 off", email: "" } });
      await aUser(stores, tenantA, "a_b", { user: { email: "" } });
      await aUser(stores, tenantA, "axb", { user: { email: "" } });
      await aUser(stores, tenantA, "slash", { user: { name: "c\\d", email: "" } });
      await aUser(stores, tenantA, "noslash", { user: { name: "cxd", email: "" } });
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["50%"] }), ["fifty"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["%"] }), ["fifty"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["a_b"] }), ["a_b"]);
      assert.deepEqual(await listedUsers(stores, tenantA, {}, { search: ["c\\d"] }), ["slash"]);
    });

    test("listUsers orders by any field with the id as tie-breaker, and pages by offset and limit", async (t) => {
      const { stores, tenantA } = await open(t);
      const u1 = await aUser(stores, tenantA, "u1", {
        user: { name: "same", lastLogin: NOW },
        now: minutesFrom(NOW, 2),
      });
      const u2 = await aUser(stores, tenantA, "u2", {
        user: { name: "same", isActive: false },
        now: minutesFrom(NOW, 1),
      });
      const u3 = await aUser(stores, tenantA, "u3", {
        user: { name: "abc", lastLogin: minutesFrom(NOW, -1) },
      });
      async function ids(...fields: (UserField | `-${UserField}`)[]): Promise<number[]> {
        const page = await stores.users.listUsers(
          tenantA,
          {},
          aListQuery<UserField>({ ordering: orderedBy(...fields) }),
        );
        return page.rows.map((user) => user.id);
      }
      assert.deepEqual(await ids("-name"), [u1.id, u2.id, u3.id]);
      assert.deepEqual(await ids("name"), [u3.id, u1.id, u2.id]);
      assert.deepEqual(await ids("-pk"), [u3.id, u2.id, u1.id]);
      assert.deepEqual(await ids("date_joined"), [u3.id, u2.id, u1.id]);
      assert.deepEqual(await ids("is_active", "-username"), [u2.id, u3.id, u1.id]);
      assert.deepEqual(await ids("-email"), [u3.id, u2.id, u1.id]);
      assert.deepEqual(await ids("path", "type"), [u1.id, u2.id, u3.id]);
      const page = await stores.users.listUsers(
        tenantA,
        {},
        aListQuery<UserField>({ ordering: orderedBy("username"), offset: 1, limit: 1 }),
      );
      assert.deepEqual(
        { total: page.total, ids: page.rows.map((user) => user.id) },
        { total: 3, ids: [u2.id] },
      );
    });

    test("a null last login sorts after every date ascending and before them descending, on every dialect", async (t) => {
      const { stores, tenantA } = await open(t);
      const u1 = await aUser(stores, tenantA, "u1", { user: { lastLogin: NOW } });
      const u2 = await aUser(stores, tenantA, "u2");
      const u3 = await aUser(stores, tenantA, "u3", { user: { lastLogin: minutesFrom(NOW, -1) } });
      const ascending = await stores.users.listUsers(
        tenantA,
        {},
        aListQuery<UserField>({ ordering: orderedBy("last_login") }),
      );
      assert.deepEqual(
        ascending.rows.map((user) => user.id),
        [u3.id, u1.id, u2.id],
      );
      const descending = await stores.users.listUsers(
        tenantA,
        {},
        aListQuery<UserField>({ ordering: orderedBy("-last_login") }),
      );
      assert.deepEqual(
        descending.rows.map((user) => user.id),
        [u2.id, u1.id, u3.id],
      );
    });

    test("updateUser changes only the given fields, stamps lastUpdated and replaces the groups when given", async (t) => {
      const { stores, tenantA } = await open(t);
      const staff = await aGroup(stores, tenantA, "staff");
      const ops = await aGroup(stores, tenantA, "ops");
      const user = await aUser(stores, tenantA, "jdoe", { user: { lastLogin: NOW, groupIds: [staff.id] } });
      const later = minutesFrom(NOW, 10);
      const renamed = await stores.users.updateUser(
        tenantA,
        user.id,
        { username: "jane", name: "Jane", lastLogin: null },
        later,
      );
      assert.deepEqual(renamed, {
        ...user,
        username: "jane",
        name: "Jane",
        lastLogin: null,
        lastUpdated: later,
      });
      const moved = await stores.users.updateUser(
        tenantA,
        user.id,
        {
          email: "new@example.com",
          emailVerified: true,
          emailVerifiedAt: later,
          stateChangedAt: later,
          metadataAdmin: ["any", "json"],
          isActive: false,
          attributes: { a: 1 },
          path: "users/x",
          type: "external",
          groupIds: [ops.id],
        },
        later,
      );
      assert.deepEqual(moved, {
        ...renamed!,
        email: "new@example.com",
        emailVerified: true,
        emailVerifiedAt: later,
        stateChangedAt: later,
        metadataAdmin: ["any", "json"],
        isActive: false,
        attributes: { a: 1 },
        path: "users/x",
        type: "external",
        groups: [{ id: ops.id, uuid: ops.uuid, name: "ops", isSuperuser: false, attributes: {} }],
      });
      const cleared = await stores.users.updateUser(
        tenantA,
        user.id,
        { emailVerifiedAt: null, stateChangedAt: null, metadataAdmin: null },
        later,
      );
      assert.deepEqual(cleared, {
        ...moved!,
        emailVerifiedAt: null,
        stateChangedAt: null,
        metadataAdmin: null,
      });
      assert.deepEqual(
        (await stores.users.updateUser(tenantA, user.id, { groupIds: [] }, later))?.groups,
        [],
      );
      assert.deepEqual(await stores.groups.findGroup(tenantA, ops.uuid), { ...ops, userIds: [] });
    });

    test("updateUser answers null when the new username is taken, and changes nothing", async (t) => {
      const { stores, tenantA } = await open(t);
      const group = await aGroup(stores, tenantA, "staff");
      await aUser(stores, tenantA, "taken");
      const user = await aUser(stores, tenantA, "jdoe", { user: { groupIds: [group.id] } });
      assert.equal(
        await stores.users.updateUser(
          tenantA,
          user.id,
          { username: "taken", name: "X", groupIds: [] },
          minutesFrom(NOW, 1),
        ),
        null,
      );
      assert.deepEqual(await stores.users.findUser(tenantA, user.id), user);
      assert.equal(await stores.users.updateUser(tenantA, user.id + 1000, { name: "X" }, NOW), null);
    });

    test("recordLogin stamps last_login only, and only on that tenant's user", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const user = await aUser(stores, tenantA, "jdoe");
      const other = await aUser(stores, tenantB, "jdoe");
      await stores.users.recordLogin(tenantA, user.id, minutesFrom(NOW, 3));
      assert.deepEqual(await stores.users.findUser(tenantA, user.id), {
        ...user,
        lastLogin: minutesFrom(NOW, 3),
      });
      await stores.users.recordLogin(tenantA, other.id, minutesFrom(NOW, 4));
      assert.deepEqual(await stores.users.findUser(tenantB, other.id), other);
    });

    test("findSignInUser: the username, else the one user with that address, with the password hash", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const jane = await aUser(stores, tenantA, "jane", { user: { email: "Jane@Example.com" } });
      await stores.users.setPasswordHash(tenantA, jane.id, "$argon2id$jane", NOW);
      await aUser(stores, tenantA, "bob", { user: { email: "shared@example.com" } });
      await aUser(stores, tenantA, "rob", { user: { email: "shared@example.com" } });
      const { groups: _groups, ...profile } = (await stores.users.findUser(tenantA, jane.id))!;

      const byName = await stores.users.findSignInUser(tenantA, "jane");
      assert.deepEqual(byName, { user: profile, passwordHash: "$argon2id$jane" });
      assert.deepEqual(await stores.users.findSignInUser(tenantA, "jane@example.COM"), byName);
      // A shared address names nobody; so does a name in another tenant or a near miss.
      assert.equal(await stores.users.findSignInUser(tenantA, "shared@example.com"), null);
      assert.equal(await stores.users.findSignInUser(tenantB, "jane"), null);
      assert.equal(await stores.users.findSignInUser(tenantA, "Jane"), null);
      const bob = await stores.users.findSignInUser(tenantA, "bob");
      assert.equal(bob?.user.username, "bob");
      assert.equal(bob?.passwordHash, null);
    });

    test("deleteUser removes the user with their tokens and group memberships, and nothing else", async (t) => {
      const { stores, tenantA } = await open(t);
      const group = await aGroup(stores, tenantA, "staff");
      const gone = await aUser(stores, tenantA, "gone", { user: { groupIds: [group.id] } });
      const kept = await aUser(stores, tenantA, "kept", { user: { groupIds: [group.id] } });
      for (const [owner, identifier] of [
        [gone, "gone-token"],
        [kept, "kept-token"],
      ] as const) {
        await stores.tokens.createToken(
          {
            id: randomUUID(),
            tenantId: tenantA,
            identifier,
            managed: null,
            intent: "api",
            userId: owner.id,
            description: "",
            expires: null,
            expiring: false,
            keyHash: identifier,
            keySealed: null,
            keySecretIndex: null,
            ownerMayView: false,
          },
          NOW,
        );
      }
      await stores.users.deleteUser(tenantA, gone.id);
      assert.equal(await stores.users.findUser(tenantA, gone.id), null);
      assert.equal(await stores.tokens.findToken(tenantA, "gone-token"), null);
      assert.deepEqual((await stores.groups.findGroup(tenantA, group.uuid))?.userIds, [kept.id]);
      assert.deepEqual(await stores.users.findUser(tenantA, kept.id), kept);
      assert.notEqual(await stores.tokens.findToken(tenantA, "kept-token"), null);
    });

    test("a password hash is null until set, and setting it stamps the password change date", async (t) => {
      const { stores, tenantA } = await open(t);
      const user = await aUser(stores, tenantA, "jdoe");
      assert.equal(await stores.users.passwordHash(tenantA, user.id), null);
      const later = minutesFrom(NOW, 3);
      await stores.users.setPasswordHash(tenantA, user.id, "$argon2id$v=19$m=19456,t=2,p=1$abc$def", later);
      assert.equal(
        await stores.users.passwordHash(tenantA, user.id),
        "$argon2id$v=19$m=19456,t=2,p=1$abc$def",
      );
      assert.deepEqual(await stores.users.findUser(tenantA, user.id), {
        ...user,
        passwordChangeDate: later,
        lastUpdated: later,
      });
      assert.equal(await stores.users.passwordHash(tenantA, user.id + 1000), null);
    });

    test("countSuperusers counts active members of superuser groups once each, leaving out a user or a group", async (t) => {
      const { stores, tenantA } = await open(t);
      const admins = await aGroup(stores, tenantA, "admins", { isSuperuser: true });
      const owners = await aGroup(stores, tenantA, "owners", { isSuperuser: true });
      const staff = await aGroup(stores, tenantA, "staff");
      const both = await aUser(stores, tenantA, "both", { user: { groupIds: [admins.id, owners.id] } });
      await aUser(stores, tenantA, "owner", { user: { groupIds: [owners.id] } });
      await aUser(stores, tenantA, "inactive", { user: { isActive: false, groupIds: [admins.id] } });
      await aUser(stores, tenantA, "plain", { user: { groupIds: [staff.id] } });
      assert.equal(await stores.users.countSuperusers(tenantA), 2);
      assert.equal(await stores.users.countSuperusers(tenantA, { exceptUserId: both.id }), 1);
      assert.equal(await stores.users.countSuperusers(tenantA, { exceptGroupId: owners.id }), 1);
      assert.equal(await stores.users.countSuperusers(tenantA, { exceptGroupId: admins.id }), 2);
      assert.equal(
        await stores.users.countSuperusers(tenantA, { exceptUserId: both.id, exceptGroupId: owners.id }),
        0,
      );
    });

    test("a user is not visible from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const admins = await aGroup(stores, tenantA, "admins", { isSuperuser: true });
      const user = await aUser(stores, tenantA, "jdoe", { user: { groupIds: [admins.id] } });
      await stores.users.setPasswordHash(tenantA, user.id, "hash", NOW);
      assert.equal(await stores.users.findUser(tenantB, user.id), null);
      assert.equal(await stores.users.findUserByUsername(tenantB, "jdoe"), null);
      assert.equal((await stores.users.findUsers(tenantB, [user.id])).size, 0);
      assert.deepEqual(await stores.users.listUsers(tenantB, {}, aListQuery({ search: ["jdoe"] })), {
        total: 0,
        rows: [],
      });
      assert.deepEqual(await stores.users.listUsers(tenantB, { isSuperuser: true }, aListQuery()), {
        total: 0,
        rows: [],
      });
      assert.equal(await stores.users.passwordHash(tenantB, user.id), null);
      assert.equal(await stores.users.countSuperusers(tenantB), 0);
    });

    test("a user cannot be changed, given a password or deleted from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const groupA = await aGroup(stores, tenantA, "staff");
      const groupB = await aGroup(stores, tenantB, "staff");
      const user = await aUser(stores, tenantA, "jdoe", { user: { groupIds: [groupA.id] } });
      const later = minutesFrom(NOW, 1);
      assert.equal(
        await stores.users.updateUser(tenantB, user.id, { name: "Changed", groupIds: [groupB.id] }, later),
        null,
      );
      await stores.users.setPasswordHash(tenantB, user.id, "hash", later);
      await stores.users.deleteUser(tenantB, user.id);
      assert.deepEqual(await stores.users.findUser(tenantA, user.id), user);
      assert.equal(await stores.users.passwordHash(tenantA, user.id), null);
      assert.deepEqual((await stores.groups.findGroup(tenantB, groupB.uuid))?.userIds, []);
    });

    test("a user never joins another tenant's group", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const groupA = await aGroup(stores, tenantA, "staff");
      const groupB = await aGroup(stores, tenantB, "admins", { isSuperuser: true });
      const user = await aUser(stores, tenantA, "jdoe", { user: { groupIds: [groupB.id] } });
      assert.deepEqual(user.groups, []);
      const updated = await stores.users.updateUser(
        tenantA,
        user.id,
        { groupIds: [groupB.id, groupA.id] },
        NOW,
      );
      assert.deepEqual(
        updated?.groups.map((group) => group.name),
        ["staff"],
      );
      assert.deepEqual((await stores.groups.findGroup(tenantB, groupB.uuid))?.userIds, []);
      assert.equal(await stores.users.countSuperusers(tenantB), 0);
    });
  });
}

/** Races that only PostgreSQL can show: SQLite serialises every write. */
export function testUserStoreRaces(open: OpenStores): void {
  test("exactly one of 20 concurrent createUser calls with the same username creates the user", async (t) => {
    const { stores, tenantA } = await open(t);
    const attempts = Array.from({ length: 20 }, () =>
      stores.users.createUser(tenantA, aNewUser("jdoe"), NOW),
    );
    const created = (await Promise.all(attempts)).filter((user) => user !== null);
    assert.equal(created.length, 1);
    assert.deepEqual(await stores.users.findUserByUsername(tenantA, "jdoe"), created[0]);
  });
}

/** The GroupStore contract: groups and their members, within one tenant. */
export function testGroupStore(open: OpenStores): void {
  describe("GroupStore", () => {
    test("createGroup stores the group with its members ascending, found by uuid and by name", async (t) => {
      const { stores, tenantA } = await open(t);
      const one = await aUser(stores, tenantA, "one");
      const two = await aUser(stores, tenantA, "two");
      const input = {
        uuid: randomUUID(),
        name: "staff",
        isSuperuser: true,
        attributes: { k: ["v"] },
        userIds: [two.id, one.id],
      };
      const group = await stores.groups.createGroup(tenantA, input);
      assert.ok(group !== null && Number.isInteger(group.id));
      assert.deepEqual(group, { ...input, id: group.id, tenantId: tenantA, userIds: [one.id, two.id] });
      assert.deepEqual(await stores.groups.findGroup(tenantA, input.uuid), group);
      assert.deepEqual(await stores.groups.findGroupByName(tenantA, "staff"), group);
      assert.equal(await stores.groups.findGroup(tenantA, randomUUID()), null);
      assert.equal(await stores.groups.findGroupByName(tenantA, "Staff"), null);
    });

    test("createGroup answers null when the name is taken in the tenant; another tenant may use it", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      await aGroup(stores, tenantA, "staff");
      assert.equal(
        await stores.groups.createGroup(tenantA, {
          uuid: randomUUID(),
          name: "staff",
          isSuperuser: false,
          attributes: {},
          userIds: [],
        }),
        null,
      );
      assert.equal(await stores.groups.findGroupByName(tenantB, "staff"), null);
      await aGroup(stores, tenantB, "staff");
      assert.deepEqual(await listedGroups(stores, tenantA, {}), ["staff"]);
    });

    test("listGroups filters by exact name, superuser flag and member usernames", async (t) => {
      const { stores, tenantA } = await open(t);
      const ann = await aUser(stores, tenantA, "ann");
      const bob = await aUser(stores, tenantA, "bob");
      await aGroup(stores, tenantA, "admins", { isSuperuser: true, userIds: [ann.id] });
      await aGroup(stores, tenantA, "staff", { userIds: [ann.id, bob.id] });
      await aGroup(stores, tenantA, "empty");
      assert.deepEqual(await listedGroups(stores, tenantA, { name: "staff" }), ["staff"]);
      assert.deepEqual(await listedGroups(stores, tenantA, { name: "staf" }), []);
      assert.deepEqual(await listedGroups(stores, tenantA, { isSuperuser: true }), ["admins"]);
      assert.deepEqual(await listedGroups(stores, tenantA, { isSuperuser: false }), ["empty", "staff"]);
      assert.deepEqual(await listedGroups(stores, tenantA, { membersByUsername: ["bob"] }), ["staff"]);
      assert.deepEqual(await listedGroups(stores, tenantA, { membersByUsername: ["ann", "bob"] }), [
        "admins",
        "staff",
      ]);
      assert.deepEqual(await listedGroups(stores, tenantA, { membersByUsername: [] }), [
        "admins",
        "empty",
        "staff",
      ]);
      const page = await stores.groups.listGroups(
        tenantA,
        { membersByUsername: ["ann"] },
        aListQuery({ limit: 1 }),
      );
      assert.deepEqual({ total: page.total, rows: page.rows.length }, { total: 2, rows: 1 });
    });

    test("listGroups searches the name case-insensitively, taking % and _ literally", async (t) => {
      const { stores, tenantA } = await open(t);
      for (const name of ["Team_A", "TeamxA", "100% staff", "1000 staff"]) {
        await aGroup(stores, tenantA, name);
      }
      assert.deepEqual(await listedGroups(stores, tenantA, {}, { search: ["m_a"] }), ["Team_A"]);
      assert.deepEqual(await listedGroups(stores, tenantA, {}, { search: ["0%"] }), ["100% staff"]);
      assert.deepEqual(await listedGroups(stores, tenantA, {}, { search: ["TEAM"] }), ["Team_A", "TeamxA"]);
      assert.deepEqual(await listedGroups(stores, tenantA, {}, { search: ["staff", "1000"] }), [
        "1000 staff",
      ]);
    });

    test("listGroups orders by name, superuser flag or pk with the id as tie-breaker, and pages", async (t) => {
      const { stores, tenantA } = await open(t);
      const b = await aGroup(stores, tenantA, "b", { isSuperuser: true });
      const c = await aGroup(stores, tenantA, "c");
      const a = await aGroup(stores, tenantA, "a", { isSuperuser: true });
      async function ids(query: Partial<ListQuery<GroupField>>): Promise<number[]> {
        return (await stores.groups.listGroups(tenantA, {}, aListQuery<GroupField>(query))).rows.map(
          (group) => group.id,
        );
      }
      assert.deepEqual(await ids({ ordering: orderedBy("name") }), [a.id, b.id, c.id]);
      assert.deepEqual(await ids({ ordering: orderedBy("-is_superuser") }), [b.id, a.id, c.id]);
      assert.deepEqual(await ids({ ordering: orderedBy("-is_superuser", "name") }), [a.id, b.id, c.id]);
      assert.deepEqual(await ids({ ordering: orderedBy("-pk") }), [a.id, c.id, b.id]);
      assert.deepEqual(await ids({ ordering: orderedBy("name"), offset: 2, limit: 5 }), [c.id]);
    });

    test("updateGroup changes only the given fields and replaces the members when given", async (t) => {
      const { stores, tenantA } = await open(t);
      const one = await aUser(stores, tenantA, "one");
      const two = await aUser(stores, tenantA, "two");
      const group = await aGroup(stores, tenantA, "staff", { attributes: { k: 1 }, userIds: [one.id] });
      const renamed = await stores.groups.updateGroup(tenantA, group.uuid, { name: "crew" });
      assert.deepEqual(renamed, { ...group, name: "crew" });
      const changed = await stores.groups.updateGroup(tenantA, group.uuid, {
        isSuperuser: true,
        attributes: {},
        userIds: [two.id],
      });
      assert.deepEqual(changed, {
        ...group,
        name: "crew",
        isSuperuser: true,
        attributes: {},
        userIds: [two.id],
      });
      assert.deepEqual(await stores.groups.updateGroup(tenantA, group.uuid, {}), changed);
      assert.deepEqual((await stores.users.findUser(tenantA, one.id))?.groups, []);
    });

    test("updateGroup answers null when the new name is taken or the group is unknown", async (t) => {
      const { stores, tenantA } = await open(t);
      await aGroup(stores, tenantA, "taken");
      const group = await aGroup(stores, tenantA, "staff");
      assert.equal(await stores.groups.updateGroup(tenantA, group.uuid, { name: "taken" }), null);
      assert.deepEqual(await stores.groups.findGroup(tenantA, group.uuid), group);
      assert.equal(await stores.groups.updateGroup(tenantA, randomUUID(), { name: "other" }), null);
    });

    test("deleteGroup removes the group and its memberships but not its members", async (t) => {
      const { stores, tenantA } = await open(t);
      const gone = await aGroup(stores, tenantA, "gone");
      const kept = await aGroup(stores, tenantA, "kept");
      const user = await aUser(stores, tenantA, "jdoe", { user: { groupIds: [gone.id, kept.id] } });
      await stores.groups.deleteGroup(tenantA, gone.uuid);
      assert.equal(await stores.groups.findGroup(tenantA, gone.uuid), null);
      assert.deepEqual(
        (await stores.users.findUser(tenantA, user.id))?.groups.map((group) => group.name),
        ["kept"],
      );
      assert.deepEqual((await stores.groups.findGroup(tenantA, kept.uuid))?.userIds, [user.id]);
    });

    test("addMember adds a member once however often it is called; removeMember removes only that member", async (t) => {
      const { stores, tenantA } = await open(t);
      const group = await aGroup(stores, tenantA, "staff");
      const one = await aUser(stores, tenantA, "one");
      const two = await aUser(stores, tenantA, "two");
      await stores.groups.addMember(group.id, two.id);
      await stores.groups.addMember(group.id, one.id);
      await stores.groups.addMember(group.id, two.id);
      assert.deepEqual((await stores.groups.findGroup(tenantA, group.uuid))?.userIds, [one.id, two.id]);
      await stores.groups.removeMember(group.id, one.id);
      await stores.groups.removeMember(group.id, one.id);
      assert.deepEqual((await stores.groups.findGroup(tenantA, group.uuid))?.userIds, [two.id]);
    });

    test("existingUserIds and existingGroups answer only the tenant's own among those asked", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const userA = await aUser(stores, tenantA, "a");
      const userB = await aUser(stores, tenantB, "b");
      const groupA = await aGroup(stores, tenantA, "a");
      const groupB = await aGroup(stores, tenantB, "b");
      assert.deepEqual(await stores.groups.existingUserIds(tenantA, [userA.id, userB.id, 9999]), [userA.id]);
      assert.deepEqual(await stores.groups.existingUserIds(tenantB, [userA.id]), []);
      assert.deepEqual(await stores.groups.existingUserIds(tenantA, []), []);
      assert.deepEqual(
        await stores.groups.existingGroups(tenantA, [groupA.uuid, groupB.uuid, randomUUID()]),
        [{ id: groupA.id, uuid: groupA.uuid }],
      );
      assert.deepEqual(await stores.groups.existingGroups(tenantB, [groupA.uuid]), []);
      assert.deepEqual(await stores.groups.existingGroups(tenantA, []), []);
    });

    test("a group is not visible from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const user = await aUser(stores, tenantA, "jdoe");
      const group = await aGroup(stores, tenantA, "staff", { isSuperuser: true, userIds: [user.id] });
      assert.equal(await stores.groups.findGroup(tenantB, group.uuid), null);
      assert.equal(await stores.groups.findGroupByName(tenantB, "staff"), null);
      assert.deepEqual(
        await stores.groups.listGroups(tenantB, { membersByUsername: ["jdoe"] }, aListQuery()),
        { total: 0, rows: [] },
      );
      assert.deepEqual(await stores.groups.listGroups(tenantB, {}, aListQuery({ search: ["staff"] })), {
        total: 0,
        rows: [],
      });
    });

    test("a group cannot be changed or deleted from another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const user = await aUser(stores, tenantA, "jdoe");
      const group = await aGroup(stores, tenantA, "staff", { userIds: [user.id] });
      assert.equal(
        await stores.groups.updateGroup(tenantB, group.uuid, {
          name: "changed",
          isSuperuser: true,
          userIds: [],
        }),
        null,
      );
      await stores.groups.deleteGroup(tenantB, group.uuid);
      assert.deepEqual(await stores.groups.findGroup(tenantA, group.uuid), group);
    });

    test("a group never gains a member of another tenant", async (t) => {
      const { stores, tenantA, tenantB } = await open(t);
      const userA = await aUser(stores, tenantA, "a");
      const userB = await aUser(stores, tenantB, "b");
      const group = await aGroup(stores, tenantA, "staff", { isSuperuser: true, userIds: [userB.id] });
      assert.deepEqual(group.userIds, []);
      const updated = await stores.groups.updateGroup(tenantA, group.uuid, {
        userIds: [userB.id, userA.id, userA.id],
      });
      assert.deepEqual(updated?.userIds, [userA.id]);
      assert.deepEqual((await stores.users.findUser(tenantB, userB.id))?.groups, []);
    });
  });
}
