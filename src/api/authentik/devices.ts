import { staticRef, totpRef } from "../../authenticators/service.js";
import type { StaticDevice, TOTPDevice } from "../../authenticators/store.js";
import type { CoreDeps } from "../../deps.js";
import type { Page } from "../../db/listing.js";
import { type ModelName, ValidationFailed } from "../../errors.js";
import { type Audit, recordEvent } from "../../events/service.js";
import type { User } from "../../users/store.js";

/**
 * The device writes the /api/v3 routes need beyond src/authenticators/service.ts: rename and delete,
 * each with its audit event in the same transaction. No HTTP types here, so these can move into the
 * authenticators service unchanged (TODO: move them there once that folder is open for edits).
 */

/** Renames a TOTP device (the only field an update may change, authentik-v3.md §3.5); records model_updated. */
export async function renameTOTPDevice(
  deps: CoreDeps,
  audit: Audit,
  device: TOTPDevice,
  name: string,
): Promise<TOTPDevice> {
  return deps.persistence.transaction(async (stores) => {
    await stores.totpDevices.renameTOTPDevice(device.tenantId, device.id, name);
    const renamed = { ...device, name };
    await recordEvent(deps, stores.events, audit, "model_updated", { model: totpRef(renamed) });
    return renamed;
  });
}

export async function renameStaticDevice(
  deps: CoreDeps,
  audit: Audit,
  device: StaticDevice,
  name: string,
): Promise<StaticDevice> {
  return deps.persistence.transaction(async (stores) => {
    await stores.staticDevices.renameStaticDevice(device.tenantId, device.id, name);
    const renamed = { ...device, name };
    await recordEvent(deps, stores.events, audit, "model_updated", { model: staticRef(renamed) });
    return renamed;
  });
}

export interface DeleteDeviceOptions {
  /**
   * Also revoke every session of the device's owner. An admin deleting a device is an MFA reset,
   * which must end the sessions opened with the old factor (as resetSecondFactors does); a user
   * removing their own device is not.
   */
  revokeSessions?: boolean;
}

/** Deletes one device of either kind with its `model_deleted` event, in one transaction. */
export async function deleteDevice(
  deps: CoreDeps,
  audit: Audit,
  device: { kind: "totp"; device: TOTPDevice } | { kind: "static"; device: StaticDevice },
  options?: DeleteDeviceOptions,
): Promise<void> {
  const { tenantId, userId } = device.device;
  await deps.persistence.transaction(async (stores) => {
    if (device.kind === "totp") {
      await stores.totpDevices.deleteTOTPDevice(tenantId, device.device.id);
      await recordEvent(deps, stores.events, audit, "model_deleted", { model: totpRef(device.device) });
    } else {
      await stores.staticDevices.deleteStaticDevice(tenantId, device.device.id);
      await recordEvent(deps, stores.events, audit, "model_deleted", { model: staticRef(device.device) });
    }
    if (options?.revokeSessions === true) {
      await stores.sessions.revokeUserSessions(tenantId, userId, deps.clock.now());
    }
  });
}

export const STATIC_DEVICE: ModelName = "StaticDevice";

/** Primary keys are PostgreSQL `serial` (int4): a larger number names no row, and asking PostgreSQL would fail. */
const MAX_SERIAL = 2_147_483_647;

/**
 * A user pk given as a field or filter, as DRF's PrimaryKeyRelatedField checks it: text that is not
 * an integer is the wrong type, an integer naming nobody in the tenant does not exist.
 */
export async function userByPk(
  deps: CoreDeps,
  tenantId: string,
  field: string,
  value: string | number,
): Promise<User> {
  const text = String(value);
  if (!/^-?\d+$/.test(text)) {
    throw ValidationFailed.field(field, "Incorrect type. Expected pk value, received str.");
  }
  const id = Number(text);
  const user =
    id >= 1 && id <= MAX_SERIAL ? await deps.persistence.stores.users.findUser(tenantId, id) : null;
  if (user === null) {
    throw ValidationFailed.field(field, `Invalid pk "${text}" - object does not exist.`);
  }
  return user;
}

/** Every row of a paged store listing, fetched a page at a time (the `all/` endpoints are not paginated). */
export async function everyRow<Row>(
  fetch: (offset: number, limit: number) => Promise<Page<Row>>,
): Promise<Row[]> {
  const limit = 200;
  const rows: Row[] = [];
  for (let offset = 0; ; offset += limit) {
    const page = await fetch(offset, limit);
    rows.push(...page.rows);
    if (page.rows.length < limit) {
      return rows;
    }
  }
}
