import type { TestContext } from "node:test";
import SQLite from "better-sqlite3";
import pg from "pg";
import type { Dialect } from "../../src/db/database.js";

const CONTROL = /^(begin|commit|rollback|savepoint|release)\b/i;

/** One statement as the driver ran it. */
export interface RanStatement {
  sql: string;
  parameters: unknown[];
}

export interface Recorder {
  /** Statements run since the last `take`, transaction control left out. */
  take(): string[];
  /** The same, with the parameters each was run with. */
  takeWithParameters(): RanStatement[];
}

/**
 * Records every statement the process runs on `dialect` until the test ends, at the driver (pg's
 * Client.query, better-sqlite3's statement methods), so nothing Rekey does on top can hide one.
 */
export function recordStatements(t: TestContext, dialect: Dialect): Recorder {
  let seen: RanStatement[] = [];
  const record = (sql: string, parameters: unknown[]) => {
    if (!CONTROL.test(sql.trim())) seen.push({ sql, parameters });
  };
  if (dialect === "postgres") {
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    proto.query = function query(this: unknown, ...args: unknown[]) {
      const first = args[0];
      if (typeof first === "string") {
        record(first, Array.isArray(args[1]) ? args[1] : []);
      } else {
        const config = first as { text?: string; values?: unknown[] };
        record(String(config.text), config.values ?? (Array.isArray(args[1]) ? args[1] : []));
      }
      return original.apply(this, args);
    };
    t.after(() => {
      proto.query = original;
    });
  } else {
    const probe = new SQLite(":memory:");
    const proto = Object.getPrototypeOf(probe.prepare("select 1")) as Record<
      "all" | "run" | "get" | "iterate",
      (this: { source: string }, ...args: unknown[]) => unknown
    >;
    probe.close();
    const originals = { all: proto.all, run: proto.run, get: proto.get, iterate: proto.iterate };
    for (const name of ["all", "run", "get", "iterate"] as const) {
      const original = originals[name];
      proto[name] = function counted(this: { source: string }, ...args: unknown[]) {
        // Kysely binds an array as the one argument; better-sqlite3 also takes them spread.
        record(this.source, args.length === 1 && Array.isArray(args[0]) ? args[0] : args);
        return original.apply(this, args);
      };
    }
    t.after(() => Object.assign(proto, originals));
  }
  const takeAll = () => {
    const taken = seen;
    seen = [];
    return taken;
  };
  return {
    take: () => takeAll().map((statement) => statement.sql),
    takeWithParameters: takeAll,
  };
}
