/** True for a unique-constraint violation on SQLite (better-sqlite3) or PostgreSQL (pg, SQLSTATE 23505). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("code" in error)) {
    return false;
  }
  const code = (error as { code: unknown }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** Names the unique constraint that failed, where the driver says (PostgreSQL), else the SQLite message. */
export function violatedConstraint(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const record = error as { constraint?: unknown; message?: unknown };
    if (typeof record.constraint === "string") {
      return record.constraint;
    }
    if (typeof record.message === "string") {
      return record.message;
    }
  }
  return "";
}
