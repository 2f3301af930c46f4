import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { Dialect } from "../../src/db/database.js";
import {
  freshDatabaseURL,
  GiveUp,
  type RekeyProcess,
  seededRandom,
  startRekey,
  waitFor,
} from "./support/rekey.js";

/**
 * Issue 6, reliability 1: under token-creation load, SIGKILL the server at random moments; after
 * each restart every token whose creation was answered 201 is still there and still works. Shared by
 * the fast variant (crash.test.ts, `npm test`) and the full one (crash.reliability.ts).
 *
 * "Random moment": each round kills once a random number of creations (1 to MAX_ACKS_BEFORE_KILL)
 * has been answered, with a further random delay of up to 20 ms, so the kill lands among requests in
 * every stage (parsing, inside the transaction, committing, answering) whatever the machine's speed.
 */

const WORKERS = 6;
const MAX_ACKS_BEFORE_KILL = 120;
/** Older tokens re-checked in full after each restart, besides the current round's. */
const OLDER_SAMPLE = 20;

interface Load {
  /** Identifiers answered 201 in this round, in order. */
  acknowledged: string[];
  /** Answers other than 201: there must be none while the server is up. */
  unexpected: string[];
  stop(): void;
  /** Resolves once every worker has seen the server die (or stop() was called). */
  done: Promise<void>;
}

/** WORKERS loops creating tokens back to back until a request fails at the socket (the kill). */
function startLoad(rekey: RekeyProcess, round: number): Load {
  const load: Omit<Load, "done"> & { stopped: boolean } = {
    acknowledged: [],
    unexpected: [],
    stopped: false,
    stop() {
      load.stopped = true;
    },
  };
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; !load.stopped; n++) {
      const identifier = `crash-r${round}-w${w}-${n}`;
      let response: Awaited<ReturnType<RekeyProcess["request"]>>;
      try {
        response = await rekey.request("POST", "/api/v3/core/tokens/", {
          body: { identifier, intent: "api", description: "crash test" },
        });
      } catch {
        return; // the server is gone: nothing was answered, so nothing is promised
      }
      if (response.status === 201) load.acknowledged.push(identifier);
      else load.unexpected.push(`${identifier}: ${response.status} ${response.text}`);
    }
  };
  const done = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w))).then(() => {});
  return Object.assign(load, { done });
}

/** Every token identifier the server lists, page by page (100 is the page-size ceiling). */
async function listedIdentifiers(rekey: RekeyProcess): Promise<Set<string>> {
  const found = new Set<string>();
  for (let page = 1; ; page++) {
    const response = await rekey.request(
      "GET",
      `/api/v3/core/tokens/?page_size=100&page=${page}&ordering=identifier`,
    );
    assert.equal(response.status, 200, response.text);
    for (const token of response.body.results as { identifier: string }[]) found.add(token.identifier);
    if (response.body.pagination.next === 0) return found;
  }
}

/** The token exists, its key can be read back, and that key authenticates as its owner. */
async function assertTokenWorks(rekey: RekeyProcess, identifier: string): Promise<void> {
  const viewed = await rekey.request("GET", `/api/v3/core/tokens/${identifier}/view_key/`);
  assert.equal(viewed.status, 200, `${identifier}: ${viewed.text}`);
  const me = await rekey.request("GET", "/api/v3/core/users/me/", { token: viewed.body.key as string });
  assert.equal(me.status, 200, `${identifier}'s key: ${me.text}`);
  assert.equal(me.body.user.username, "akadmin");
}

async function assertAllWork(rekey: RekeyProcess, identifiers: string[]): Promise<void> {
  const queue = [...identifiers];
  const checker = async (): Promise<void> => {
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) await assertTokenWorks(rekey, next);
  };
  await Promise.all(Array.from({ length: 6 }, checker));
}

export interface CrashSummary {
  kills: number;
  acknowledged: number;
  /** Tokens present although their creation was never answered (committed just before the kill). */
  unacknowledgedButPresent: number;
}

export async function crashScenario(t: TestContext, dialect: Dialect, kills: number): Promise<CrashSummary> {
  const random = seededRandom(t);
  const databaseURL = await freshDatabaseURL(t, dialect);
  const rekey = await startRekey(t, { databaseURL, name: `crash-${dialect}` });
  const acknowledged: string[] = [];
  let unacknowledgedButPresent = 0;
  for (let round = 0; round < kills; round++) {
    const load = startLoad(rekey, round);
    const target = 1 + Math.floor(random() * MAX_ACKS_BEFORE_KILL);
    let died = false;
    void load.done.then(() => {
      died = true;
    });
    await waitFor(
      `${target} acknowledged creations in round ${round}`,
      () => {
        if (died) throw new GiveUp(`the server died before it was killed:\n${rekey.logTail()}`);
        return load.acknowledged.length >= target;
      },
      60_000,
    );
    await new Promise((done) => setTimeout(done, random() * 20));
    await rekey.kill9();
    await load.done;
    assert.deepEqual(load.unexpected, [], `round ${round}: answers other than 201 while the server was up`);
    const thisRound = [...load.acknowledged];
    acknowledged.push(...thisRound);

    await rekey.restart();
    const listed = await listedIdentifiers(rekey);
    const missing = acknowledged.filter((identifier) => !listed.has(identifier));
    assert.deepEqual(missing, [], `round ${round}: tokens answered 201 but gone after the restart`);
    const known = new Set(acknowledged);
    unacknowledgedButPresent = [...listed].filter((id) => id.startsWith("crash-") && !known.has(id)).length;
    const older = acknowledged.slice(0, acknowledged.length - thisRound.length);
    const sample = Array.from(
      { length: Math.min(OLDER_SAMPLE, older.length) },
      () => older[Math.floor(random() * older.length)]!,
    );
    await assertAllWork(rekey, [...thisRound, ...sample]);
  }
  // The last restart's server checks every token once more, not just a sample.
  await assertAllWork(rekey, acknowledged);
  const summary = { kills, acknowledged: acknowledged.length, unacknowledgedButPresent };
  t.diagnostic(`${dialect}: ${JSON.stringify(summary)}`);
  return summary;
}
