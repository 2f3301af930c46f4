import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import SQLite from "better-sqlite3";
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  type QueryResult,
  SqliteDialect,
  type SqliteDatabase,
} from "kysely";
import pg from "pg";
import { type Checkpointer, startCheckpointer } from "./checkpointer.js";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export interface DB {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Folder of the SQLite file (where a generated secret lives); null for PostgreSQL. */
  dataDir: string | null;
  /** Runs `work` in one transaction: all it writes commits together, or none of it does. */
  transaction<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// int8 (bigint) columns hold epoch milliseconds and counters, all far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

export function sqlitePath(databaseURL: string): string {
  return resolve(databaseURL.slice("sqlite:".length));
}

/**
 * better-sqlite3 behind a cache of prepared statements. Kysely prepares every query it runs; the SQL
 * text of a query shape never changes, so preparing each text once saves a parse per request.
 * Bounded, since search terms and IN lists make some texts vary.
 */
function withStatementCache(sqlite: SQLite.Database, capacity = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (cache.size >= capacity) {
          cache.delete(cache.keys().next().value as string);
        }
        cache.set(sql, statement);
      }
      return statement as unknown as ReturnType<SqliteDatabase["prepare"]>;
    },
  };
}

/** SQL text by dialect adapter and query shape: a shape's text never changes, only its parameters. */
const queryTexts = new WeakMap<object, Map<string, string>>();

/**
 * Runs the query `build` makes, building and compiling it only the first time per dialect and
 * `shape`: for a hot query (a token or event insert, the session read) Kysely's builder and compiler
 * cost more CPU than the database spends answering it. The cached text is kept only once a compile
 * has shown its parameters are exactly `parameters`, in order; any other query builds every time.
 */
export async function executeCached<R>(
  db: Kysely<Database>,
  shape: string,
  parameters: readonly unknown[],
  build: () => CompiledQuery<R>,
): Promise<QueryResult<R>> {
  const adapter = db.getExecutor().adapter;
  let texts = queryTexts.get(adapter);
  if (texts === undefined) {
    texts = new Map();
    queryTexts.set(adapter, texts);
  }
  const text = texts.get(shape);
  if (text !== undefined) {
    return db.executeQuery(CompiledQuery.raw(text, [...parameters]) as CompiledQuery<R>);
  }
  const compiled = build();
  const sameOrder =
    compiled.parameters.length === parameters.length &&
    compiled.parameters.every((parameter, index) => parameter === parameters[index]);
  if (sameOrder) {
    texts.set(shape, compiled.sql);
  }
  return db.executeQuery(compiled);
}

/** Inserts one row; its SQL is built once per table and list of columns (executeCached). */
export async function insertRow<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  row: Record<string, unknown>,
): Promise<void> {
  await executeCached(db, `insert ${table}(${Object.keys(row).join(",")})`, Object.values(row), () =>
    db
      .insertInto(table)
      .values(row as never)
      .compile(),
  );
}

/** Most transactions one SQLite commit carries; bounds how long one batch holds the connection. */
const MAX_GROUP = 64;

interface GroupJob {
  work: (trx: Kysely<Database>) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for SQLite's single connection. A commit costs far more than the statements of a
 * small transaction (every page it touched goes to the WAL, each in its own write), so the
 * transactions that arrive in one turn of the event loop run one after another inside a single
 * BEGIN … COMMIT, each in a savepoint of its own: a failing one rolls back to its savepoint and
 * fails alone, the others commit together. No caller hears "done" before the COMMIT that holds its
 * writes has returned, so an answered request is as durable as with one commit per transaction
 * (WAL, synchronous=NORMAL: survives a killed process). The connection stays held from BEGIN to
 * COMMIT, so no other query ever sees a batch's uncommitted rows.
 *
 * The transaction control statements run straight on better-sqlite3, synchronously, while the batch
 * holds Kysely's connection (so nothing else runs between them): through Kysely each cost about
 * 3 µs of promise plumbing for 0.3 µs of SQLite, and a created token takes four of them.
 */
class GroupCommit {
  private readonly queue: GroupJob[] = [];
  private scheduled = false;
  private readonly kysely: Kysely<Database>;
  private readonly control: Record<
    "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackToSavepoint",
    SQLite.Statement
  >;

  constructor(kysely: Kysely<Database>, sqlite: SQLite.Database) {
    this.kysely = kysely;
    this.control = {
      begin: sqlite.prepare("begin"),
      commit: sqlite.prepare("commit"),
      rollback: sqlite.prepare("rollback"),
      savepoint: sqlite.prepare("savepoint rekey_work"),
      release: sqlite.prepare("release rekey_work"),
      rollbackToSavepoint: sqlite.prepare("rollback to rekey_work"),
    };
  }

  run<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // Wait for the rest of this turn: the other requests read in it queue their work too.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.kysely.connection().execute((connection) => this.batch(connection));
      }
    } finally {
      this.scheduled = false;
      if (this.queue.length > 0) {
        this.scheduled = true;
        setImmediate(() => void this.drain());
      }
    }
  }

  private async batch(connection: Kysely<Database>): Promise<void> {
    const { control } = this;
    const succeeded: { job: GroupJob; value: unknown }[] = [];
    let current: GroupJob | null = null;
    try {
      control.begin.run();
      for (let taken = 0; taken < MAX_GROUP && this.queue.length > 0; taken++) {
        current = this.queue.shift()!;
        control.savepoint.run();
        try {
          const value = await current.work(connection);
          control.release.run();
          succeeded.push({ job: current, value });
        } catch (error) {
          control.rollbackToSavepoint.run();
          control.release.run();
          current.reject(error);
        }
        current = null;
      }
      control.commit.run();
    } catch (error) {
      // BEGIN, a savepoint statement or COMMIT itself failed: nothing of this batch is kept.
      try {
        control.rollback.run();
      } catch {
        // no transaction was open (BEGIN failed) or SQLite already rolled it back
      }
      current?.reject(error);
      for (const { job } of succeeded) job.reject(error);
      return;
    }
    for (const { job, value } of succeeded) job.resolve(value);
  }
}

export interface OpenOptions {
  /** PostgreSQL: connections in the pool. */
  poolSize?: number;
  /**
   * SQLite file: checkpoint the WAL from a worker thread (db/checkpointer.ts) rather than inside the
   * commits of requests. For a serving process; a short-lived one (the CLI, a test) has no load to
   * spare the event loop from, and would only pay for starting the thread.
   */
  backgroundCheckpoints?: boolean;
}

/**
 * The functions Rekey's schema and queries expect of every connection that writes to the file: the
 * expression indexes on `lower(…)` (migration 008) are only right if every writer folds case alike.
 */
export function registerFunctions(sqlite: SQLite.Database): void {
  // SQLite's own lower() folds ASCII only, so a search for "jörg" would miss "JÖRG" there and not on
  // PostgreSQL; list search (db/listing.ts) lower-cases both sides, so give it JavaScript's folding.
  sqlite.function("lower", { deterministic: true }, (value: unknown) =>
    value === null ? null : String(value).toLowerCase(),
  );
}

/** Opens the database named by REKEY_DATABASE_URL. `sqlite::memory:` opens a private in-memory one. */
export function openDatabase(databaseURL: string, options?: OpenOptions): DB {
  if (databaseURL.startsWith("sqlite:")) {
    const memory = databaseURL === "sqlite::memory:";
    const path = memory ? ":memory:" : sqlitePath(databaseURL);
    if (!memory) {
      mkdirSync(dirname(path), { recursive: true });
    }
    const sqlite = new SQLite(path);
    sqlite.pragma("journal_mode = WAL");
    // NORMAL is durable in WAL mode across process crashes; only an OS crash can lose the last commits.
    sqlite.pragma("synchronous = NORMAL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
    // A larger page cache and fewer, larger checkpoints: the hot pages of token and event indexes are
    // written back once per checkpoint instead of once per thousand WAL pages. Durability is the
    // same (checkpoints only move committed pages from the WAL into the database file).
    sqlite.pragma("cache_size = -32768");
    const checkpointer: Checkpointer | null =
      options?.backgroundCheckpoints === true && !memory ? startCheckpointer(path) : null;
    // The WAL starts over from its beginning only once a checkpoint has copied all of it, which the
    // worker, always a few commits behind under steady writes, seldom manages. SQLite's own checkpoint
    // runs between two commits of this connection, so it does, and by then finds little left to copy:
    // it stays on, at 8,000 pages (a WAL of about 32 MiB) rather than 4,000.
    sqlite.pragma(`wal_autocheckpoint = ${checkpointer === null ? 4000 : 8000}`);
    // Group commit gives every transaction its own savepoint, and a savepoint keeps the original of
    // each page it changes in a sub-journal: in a temporary file by default, which cost about 12 of
    // the 22 pwrite calls per created token. In memory it is a copy; durability is unchanged (the
    // sub-journal only serves a rollback to the savepoint, never crash recovery).
    sqlite.pragma("temp_store = MEMORY");
    registerFunctions(sqlite);
    const kysely = new Kysely<Database>({
      dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
    });
    const group = new GroupCommit(kysely, sqlite);
    return {
      kysely,
      dialect: "sqlite",
      dataDir: memory ? null : dirname(path),
      transaction: (work) => group.run(work),
      async close() {
        await checkpointer?.stop();
        await kysely.destroy();
      },
    };
  }
  const pool = new pg.Pool({ connectionString: databaseURL, max: options?.poolSize ?? 10 });
  // An idle connection the server ends (a restart, a failover, a proxy's idle timeout) is dropped
  // from the pool by pg itself and the next query opens a new one. Without a listener the event
  // would be unhandled and end the process.
  pool.on("error", () => {});
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kysely,
    dialect: "postgres",
    dataDir: null,
    // Many connections: transactions run side by side, each with its own commit.
    transaction: (work) => kysely.transaction().execute(work),
    close: () => kysely.destroy(),
  };
}
