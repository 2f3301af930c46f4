// Query plans of the hot paths at scale. The SQL is not retyped here: Rekey's own stores run against a
// Kysely whose log hands over every statement with its parameters, and each is then explained
// (PostgreSQL: EXPLAIN ANALYZE, so the time is the real one; SQLite: EXPLAIN QUERY PLAN and a timed run).
import SQLite from "better-sqlite3";
import { type CompiledQuery, Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { sqlitePath } from "../../src/db/database.js";
import type { Database } from "../../src/db/schema.js";
import { sqlTokenStore } from "../../src/tokens/store.sql.js";
import { sqlUserStore } from "../../src/users/store.sql.js";

export interface QueryPlan {
  /** Which store call issued it, and which of its statements this is. */
  label: string;
  sql: string;
  plan: string[];
  milliseconds: number;
}

/** What the plans are taken for: a loaded token's lookup hash and its owner. */
export interface PlanSubject {
  keyHash: string;
  username: string;
}

type Captured = { label: string; query: CompiledQuery };

/** Runs every hot store call once against `kysely`, recording each statement under its label. */
async function capture(
  kysely: Kysely<Database>,
  log: CompiledQuery[],
  subject: PlanSubject,
): Promise<Captured[]> {
  const tokens = sqlTokenStore(kysely);
  const users = sqlUserStore(kysely);
  const out: Captured[] = [];
  async function record(label: string, call: () => Promise<unknown>): Promise<void> {
    log.length = 0;
    await call();
    log.forEach((query, index) => {
      out.push({ label: `${label} [${index + 1}/${log.length}]`, query });
    });
  }
  const tenant = await kysely
    .selectFrom("tenant")
    .select("id")
    .where("schema_name", "=", "public")
    .executeTakeFirstOrThrow();
  const owner = await users.findUserByUsername(tenant.id, subject.username);
  if (owner === null) throw new Error(`plans: no user ${subject.username}`);
  const byIdentifier = [
    { field: "identifier" as const, descending: false },
    { field: "expires" as const, descending: false },
  ];
  await record("token lookup by hash (authenticateBearer)", () =>
    tokens.findAPICredential(tenant.id, subject.keyHash, new Date()),
  );
  await record("identifier taken? (POST tokens)", () =>
    tokens.isIdentifierTaken(tenant.id, "scale-probe", null),
  );
  await record("token list, page 1, superuser", () =>
    tokens.listTokens(tenant.id, {}, { search: [], ordering: byIdentifier, offset: 0, limit: 20 }),
  );
  await record("token list, page 5,000, superuser", () =>
    tokens.listTokens(tenant.id, {}, { search: [], ordering: byIdentifier, offset: 99_980, limit: 20 }),
  );
  // Not a query Rekey runs: the count listTokens could run when no filter or search names the user.
  // Every token has an owner (user_id is a NOT NULL foreign key), so the number is the same.
  await record("PROPOSAL, not in Rekey: token list count without the user join", () =>
    kysely
      .selectFrom("token")
      .where("token.tenant_id", "=", tenant.id)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow(),
  );
  await record("token list, one user's own", () =>
    tokens.listTokens(
      tenant.id,
      { userId: owner.id },
      { search: [], ordering: byIdentifier, offset: 0, limit: 20 },
    ),
  );
  await record("users list, page 1", () =>
    users.listUsers(
      tenant.id,
      {},
      { search: [], ordering: [{ field: "username", descending: false }], offset: 0, limit: 20 },
    ),
  );
  return out;
}

export async function postgresPlans(url: string, subject: PlanSubject): Promise<QueryPlan[]> {
  const log: CompiledQuery[] = [];
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const kysely = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === "query") log.push(event.query);
    },
  });
  try {
    const captured = await capture(kysely, log, subject);
    const plans: QueryPlan[] = [];
    for (const { label, query } of captured) {
      const result = await pool.query<{ "QUERY PLAN": string }>(
        `explain (analyze, buffers) ${query.sql}`,
        query.parameters as unknown[],
      );
      const plan = result.rows.map((row) => row["QUERY PLAN"]);
      const time = plan
        .map((line) => /^Execution Time: ([\d.]+) ms/.exec(line))
        .find((match) => match !== null);
      plans.push({
        label,
        sql: query.sql,
        plan,
        milliseconds: time === undefined ? Number.NaN : Number(time![1]),
      });
    }
    return plans;
  } finally {
    await kysely.destroy();
  }
}

export async function sqlitePlans(url: string, subject: PlanSubject): Promise<QueryPlan[]> {
  const log: CompiledQuery[] = [];
  const sqlite = new SQLite(sqlitePath(url), { readonly: true });
  // As database.ts registers it, so that any search query runs the same.
  sqlite.function("lower", { deterministic: true }, (value: unknown) =>
    value === null ? null : String(value).toLowerCase(),
  );
  const kysely = new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
    log: (event) => {
      if (event.level === "query") log.push(event.query);
    },
  });
  try {
    const captured = await capture(kysely, log, subject);
    return captured.map(({ label, query }) => {
      const parameters = query.parameters as unknown[];
      const plan = (
        sqlite.prepare(`explain query plan ${query.sql}`).all(...parameters) as { detail: string }[]
      ).map((row) => row.detail);
      const started = performance.now();
      sqlite.prepare(query.sql).all(...parameters);
      return { label, sql: query.sql, plan, milliseconds: performance.now() - started };
    });
  } finally {
    await kysely.destroy();
  }
}

export function formatPlans(plans: QueryPlan[]): string {
  return plans
    .map((plan) =>
      [`-- ${plan.label}: ${plan.milliseconds.toFixed(2)} ms`, ...plan.plan.map((line) => `   ${line}`)].join(
        "\n",
      ),
    )
    .join("\n");
}
