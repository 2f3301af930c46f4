import { isUniqueViolation } from "../../db/errors.js";
import { durationFormatMessage, parseDurationString } from "../../durations.js";
import { ObjectNotFound, ValidationFailed } from "../../errors.js";
import { type Audit, recordEvent } from "../../events/service.js";
import type { ModelRef } from "../../events/store.js";
import { isValidEmail } from "../../users/service.js";
import type { CoreDeps } from "../../deps.js";
import type { Stores } from "../../db/stores.js";
import { isStageTemplate } from "../templates/index.js";
import type { EmailStage, EmailStageChanges } from "./store.js";

type StageDeps = Pick<CoreDeps, "persistence" | "clock" | "random" | "smtpPasswords">;

/** An email stage as an API client writes it; `password` is write-only and optional. */
export interface EmailStageInput {
  name: string;
  useGlobalSettings: boolean;
  host: string;
  port: number;
  username: string;
  /** undefined: keep the stored password; "": remove it. */
  password?: string;
  useTLS: boolean;
  useSSL: boolean;
  timeout: number;
  fromAddress: string;
  tokenExpiry: string;
  subject: string;
  template: string;
  activateUserOnSuccess: boolean;
}

/** authentik's model defaults (authentik-v3.md §3.6). */
export const EMAIL_STAGE_DEFAULTS: Omit<EmailStageInput, "name"> = {
  useGlobalSettings: false,
  host: "localhost",
  port: 25,
  username: "",
  useTLS: false,
  useSSL: false,
  timeout: 10,
  fromAddress: "system@authentik.local",
  tokenExpiry: "minutes=30",
  subject: "authentik",
  template: "email/password_reset.html",
  activateUserOnSuccess: false,
};

const NAME_TAKEN = "Stage with this name already exists.";

/** How audit events name a stage: authentik's app and model, the uuid as hex without hyphens. */
export function emailStageRef(stage: Pick<EmailStage, "id" | "name">): ModelRef {
  return {
    app: "authentik_stages_email",
    model_name: "emailstage",
    pk: stage.id.replaceAll("-", ""),
    name: stage.name,
  };
}

export async function findEmailStageOrThrow(
  stores: Pick<Stores, "emailStages">,
  tenantId: string,
  id: string,
): Promise<EmailStage> {
  const stage = await stores.emailStages.findEmailStage(tenantId, id);
  if (stage === null) {
    throw new ObjectNotFound("EmailStage");
  }
  return stage;
}

/**
 * Field rules first, then the cross-field rule, as DRF runs `validate()` only on valid fields.
 * `merged` is the stage as it would be after the change, so a PATCH cannot pair TLS with SSL either.
 */
async function validateStage(
  stores: Stores,
  tenantId: string,
  given: Partial<EmailStageInput>,
  merged: Pick<EmailStageInput, "useTLS" | "useSSL">,
  currentId: string | null,
): Promise<void> {
  const errors: Record<string, string[]> = {};
  if (
    given.name !== undefined &&
    (await stores.emailStages.isEmailStageNameTaken(tenantId, given.name, currentId))
  ) {
    errors["name"] = [NAME_TAKEN];
  }
  if (given.fromAddress !== undefined && !isValidEmail(given.fromAddress)) {
    errors["from_address"] = ["Enter a valid email address."];
  }
  if (given.tokenExpiry !== undefined && parseDurationString(given.tokenExpiry) === null) {
    errors["token_expiry"] = [durationFormatMessage(given.tokenExpiry)];
  }
  if (given.template !== undefined && !isStageTemplate(given.template)) {
    errors["template"] = [`"${given.template}" is not a valid choice.`];
  }
  if (Object.keys(errors).length > 0) {
    throw new ValidationFailed(errors);
  }
  if (merged.useTLS && merged.useSSL) {
    throw ValidationFailed.field("non_field_errors", "use_tls and use_ssl cannot both be enabled.");
  }
}

/** The stored form of a given password: sealed, or cleared for "". undefined when none was given. */
function passwordChanges(
  deps: Pick<StageDeps, "smtpPasswords">,
  password: string | undefined,
): EmailStageChanges {
  if (password === undefined) {
    return {};
  }
  if (password === "") {
    return { passwordSealed: null, passwordSecretIndex: null };
  }
  const sealed = deps.smtpPasswords.seal(password);
  return { passwordSealed: sealed.sealed, passwordSecretIndex: sealed.secretIndex };
}

/** Only the fields the client sent, in domain terms, without the password. */
function fieldChanges(input: Partial<EmailStageInput>): EmailStageChanges {
  const { password: _password, template, ...rest } = input;
  const changes: EmailStageChanges = Object.fromEntries(
    Object.entries(rest).filter(([, value]) => value !== undefined),
  );
  if (template !== undefined && isStageTemplate(template)) {
    changes.template = template;
  }
  return changes;
}

/** A name taken by a concurrent request slips past the check and hits the unique constraint. */
async function translateNameRace<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw ValidationFailed.field("name", NAME_TAKEN);
    }
    throw error;
  }
}

export async function createEmailStage(
  deps: StageDeps,
  audit: Audit,
  input: EmailStageInput,
): Promise<EmailStage> {
  return translateNameRace(() =>
    deps.persistence.transaction(async (stores) => {
      const merged = { ...EMAIL_STAGE_DEFAULTS, ...fieldChanges(input), name: input.name };
      await validateStage(stores, audit.tenantId, { ...EMAIL_STAGE_DEFAULTS, ...input }, merged, null);
      const stage: EmailStage = {
        ...merged,
        id: deps.random.uuid(),
        tenantId: audit.tenantId,
        template: isStageTemplate(merged.template) ? merged.template : "email/password_reset.html",
        passwordSealed: null,
        passwordSecretIndex: null,
        ...passwordChanges(deps, input.password),
      };
      await stores.emailStages.createEmailStage(stage, deps.clock.now());
      await recordEvent(deps, stores.events, audit, "model_created", { model: emailStageRef(stage) });
      return stage;
    }),
  );
}

/** PUT and PATCH: only the given fields change; without `password` the stored one is kept. */
export async function updateEmailStage(
  deps: StageDeps,
  audit: Audit,
  id: string,
  input: Partial<EmailStageInput>,
): Promise<EmailStage> {
  return translateNameRace(() =>
    deps.persistence.transaction(async (stores) => {
      const current = await findEmailStageOrThrow(stores, audit.tenantId, id);
      const changes = { ...fieldChanges(input), ...passwordChanges(deps, input.password) };
      const updated: EmailStage = { ...current, ...changes };
      await validateStage(stores, audit.tenantId, input, updated, id);
      await stores.emailStages.updateEmailStage(audit.tenantId, id, changes);
      await recordEvent(deps, stores.events, audit, "model_updated", { model: emailStageRef(updated) });
      return updated;
    }),
  );
}

export async function deleteEmailStage(deps: StageDeps, audit: Audit, id: string): Promise<void> {
  await deps.persistence.transaction(async (stores) => {
    const stage = await findEmailStageOrThrow(stores, audit.tenantId, id);
    await stores.emailStages.deleteEmailStage(audit.tenantId, id);
    await recordEvent(deps, stores.events, audit, "model_deleted", { model: emailStageRef(stage) });
  });
}
