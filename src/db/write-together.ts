import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from "kysely";
import type { CoreDeps } from "../deps.js";
import { type Stores, storesOn } from "./stores.js";
import type { Database } from "./schema.js";

/**
 * Writes that must commit together, in as few round trips as the database allows. On PostgreSQL the
 * writes are not run one by one inside BEGIN … COMMIT (two statements more, and a round trip each):
 * `work` runs against stores that only record the statements they would run, and those are sent as
 * one statement, each but the last in a data-modifying WITH clause. One statement is atomic on its
 * own, so all of it commits or none does, as in a transaction. On SQLite, whose transactions cost no
 * round trips and share one group commit, `work` runs in a transaction as usual.
 *
 * Only for plain writes whose results `work` does not use (no RETURNING, no affected-row counts, no
 * reads): the recording stores answer every statement with no rows. Nor for writes that caches
 * depend on (the writes db/stores.ts announces: users, tokens, groups, tenants; a sign-in's
 * `recordLogin` is not one): the recording stores announce nothing on the ChangeFeed. The parts of
 * one WITH statement all see the database as it was before it, so no write may depend on another's
 * effect (an insert and a delete of other rows of the same table are fine; two changes to one row
 * are not).
 */
export async function writeTogether(
  deps: Pick<CoreDeps, "db" | "persistence">,
  work: (stores: Stores) => Promise<void>,
): Promise<void> {
  if (deps.db.dialect !== "postgres") {
    await deps.persistence.transaction(work);
    return;
  }
  const statements = await recorded(work);
  if (statements.length === 0) {
    return;
  }
  const combined = combine(statements);
  if (combined === null) {
    await deps.persistence.transaction(work);
    return;
  }
  await deps.db.kysely.executeQuery(combined);
}

/** Asked of a recording connection at the end: it answers with what it recorded. */
const TAKE = CompiledQuery.raw("-- rekey: take recorded statements");

class RecordingConnection implements DatabaseConnection {
  private readonly statements: CompiledQuery[] = [];

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (query === TAKE) {
      return { rows: this.statements as R[] };
    }
    this.statements.push(query);
    return { rows: [] };
  }

  // biome-ignore lint/correctness/useYield: never streams; the generator only refuses.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("recording stores do not stream");
  }
}

/** A new recording connection per acquisition, so concurrent requests never share a record. */
const recordingDriver: Driver = {
  async init() {},
  async acquireConnection() {
    return new RecordingConnection();
  },
  async beginTransaction() {
    throw new Error("recording stores do not open transactions");
  },
  async commitTransaction() {},
  async rollbackTransaction() {},
  async releaseConnection() {},
  async destroy() {},
};

/** Compiles as PostgreSQL does; executes nothing. */
const recorder = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => recordingDriver,
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** The statements `work` runs, in order, compiled for PostgreSQL. */
function recorded(work: (stores: Stores) => Promise<void>): Promise<CompiledQuery[]> {
  return recorder.connection().execute(async (connection) => {
    await work(storesOn(connection, "postgres"));
    return (await connection.executeQuery<CompiledQuery>(TAKE)).rows;
  });
}

/**
 * One statement of several: `with w0 as (<first>), w1 as (<second>) <last>`, the parameters of each
 * renumbered after those before it. Null (run them in a transaction instead) when a statement's text
 * does not hold exactly its parameters' placeholders ($1 to $n, every one), since renumbering could then go wrong.
 */
function combine(statements: CompiledQuery[]): CompiledQuery | null {
  if (statements.length === 1) {
    return statements[0]!;
  }
  const texts: string[] = [];
  const parameters: unknown[] = [];
  for (const statement of statements) {
    const offset = parameters.length;
    const seen = new Set<number>();
    const text = statement.sql.replace(/\$(\d+)/g, (_, digits: string) => {
      seen.add(Number(digits));
      return `$${Number(digits) + offset}`;
    });
    const count = statement.parameters.length;
    if (seen.size !== count || [...seen].some((n) => n < 1 || n > count)) {
      return null;
    }
    texts.push(text);
    parameters.push(...statement.parameters);
  }
  const last = texts.pop()!;
  const clauses = texts.map((text, index) => `w${index} as (${text})`).join(", ");
  return CompiledQuery.raw(`with ${clauses} ${last}`, parameters);
}
