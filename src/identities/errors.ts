/**
 * What the identity rules refuse. They are not in src/errors.ts's catalogue (which this folder does
 * not own): the Kratos admin surface, their only caller, renders them (api/kratos/admin.ts).
 */
export abstract class IdentityError extends Error {
  abstract readonly code: string;
}

/** Another user of the tenant already has this email or username (case-insensitive). */
export class IdentityConflict extends IdentityError {
  readonly code = "identity_conflict";
  /** Create and update answer with different texts (kratos.md §3.1.2, §3.1.5). */
  readonly operation: "create" | "update";

  constructor(operation: "create" | "update") {
    super(`identity conflicts with another identity (${operation})`);
    this.operation = operation;
  }
}

/** The identity has no credential of this type (any string, unknown types too). */
export class CredentialNotFound extends IdentityError {
  readonly code = "credential_not_found";
  readonly credentialType: string;

  constructor(credentialType: string) {
    super(`the identity has no ${credentialType} credential`);
    this.credentialType = credentialType;
  }
}

/** The password is the only first factor in Rekey: removing it would lock the identity out. */
export class LastFirstFactor extends IdentityError {
  readonly code = "last_first_factor";

  constructor() {
    super("the password is the last first factor credential");
  }
}
