import type { TestContext } from "node:test";
import type { ListQuery } from "./listing.js";
import type { Stores } from "./stores.js";

/**
 * What every store contract (each `store.contract.ts`) is given: fresh stores on an empty, migrated
 * database, and two tenants: A, the default tenant, and B, a second one created for the test.
 */
export interface StoresUnderTest {
  stores: Stores;
  tenantA: string;
  tenantB: string;
}

/** Opens fresh stores for one test; whatever it opens is closed when `t` ends. */
export type OpenStores = (t: TestContext) => Promise<StoresUnderTest>;

/** The instant the contracts stand at: stores take time as an argument, so no test reads the real clock. */
export const NOW = new Date("2026-03-01T12:00:00.000Z");

export function minutesFrom(at: Date, minutes: number): Date {
  return new Date(at.getTime() + minutes * 60_000);
}

/** A list query with no search and no ordering over the first 100 rows, changed by `overrides`. */
export function aListQuery<Field extends string>(overrides?: Partial<ListQuery<Field>>): ListQuery<Field> {
  return { search: [], ordering: [], offset: 0, limit: 100, ...overrides };
}

/** Sorting keys, ascending unless the field name starts with `-`, as the edge passes them on. */
export function orderedBy<Field extends string>(
  ...fields: (Field | `-${Field}`)[]
): ListQuery<Field>["ordering"] {
  return fields.map((field) =>
    field.startsWith("-")
      ? { field: field.slice(1) as Field, descending: true }
      : { field: field as Field, descending: false },
  );
}
