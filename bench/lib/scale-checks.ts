// What the scale run asks of the live server: that loaded rows are real credentials (checked through
// the API, not the database), and a read that misses the credential cache on purpose.
import autocannon from "autocannon";
import type { SampleKey } from "./bulk.js";
import type { LoadSettings } from "./load.js";
import type { BenchContext } from "./scenarios.js";

export const ROTATING_READ = "GET /core/users/me/ (loaded keys in turn)";

export interface Latency {
  name: string;
  /** Distinct keys the rotating read cycled through. */
  keys?: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** MiB the machine wrote to disk while the scenario ran (bench/scale.ts); absent off Linux. */
  diskWrittenMiB?: number;
}

/** The few fields the checks read from users/me and view_key answers. */
interface Answer {
  user?: { username?: string; groups?: unknown[] };
  key?: string;
}

async function call(
  context: BenchContext,
  path: string,
  key: string,
): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${context.rekeyURL}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Answer };
}

/**
 * Proves the loader wrote what Rekey reads: loaded api keys authenticate as their owner (SHA-256
 * lookup hash, tenant, active user), an app password does not (intent), and view_key opens the
 * AES-GCM ciphertext to the very key (SecretBox under the server's secret). Throws on any miss.
 */
export async function verifyLoadedRows(context: BenchContext, samples: SampleKey[]): Promise<string[]> {
  const api = samples.filter((sample) => sample.intent === "api");
  const step = Math.max(1, Math.floor(api.length / 50));
  const checked = api.filter((_, index) => index % step === 0).slice(0, 50);
  for (const sample of checked) {
    const me = await call(context, "/api/v3/core/users/me/", sample.key);
    if (me.status !== 200 || me.body.user?.username !== sample.username) {
      throw new Error(
        `loaded token ${sample.identifier}: users/me answered ${me.status} ${JSON.stringify(me.body)}`,
      );
    }
    const groups = me.body.user?.groups;
    if (!Array.isArray(groups) || groups.length === 0) {
      throw new Error(`loaded user ${sample.username} has no groups: ${JSON.stringify(me.body.user)}`);
    }
  }
  const lines = [`${checked.length} loaded api keys: GET users/me -> 200 as their owner, with groups`];
  const appPassword = samples.find((sample) => sample.intent === "app_password");
  if (appPassword !== undefined) {
    const me = await call(context, "/api/v3/core/users/me/", appPassword.key);
    if (me.status !== 403) throw new Error(`app password ${appPassword.identifier} answered ${me.status}`);
    lines.push("a loaded app_password key: GET users/me -> 403 (not an api token)");
  }
  const viewed = [...checked.slice(0, 4), ...(appPassword === undefined ? [] : [appPassword])];
  for (const sample of viewed) {
    const view = await call(
      context,
      `/api/v3/core/tokens/${sample.identifier}/view_key/`,
      context.adminToken,
    );
    if (view.status !== 200 || view.body.key !== sample.key) {
      throw new Error(`view_key of ${sample.identifier} answered ${view.status}, not the loaded key`);
    }
  }
  lines.push(`${viewed.length} loaded tokens: view_key (admin) -> 200 with the very key (AES-GCM opens)`);
  return lines;
}

/**
 * GET users/me cycling through every sampled api key. The admin-token scenario is answered from the
 * credential cache after the first request; this one visits more keys in turn than the cache holds
 * (10,000, emptied when full), so each key has left it before it comes round again and every request
 * runs the token lookup and the groups query.
 */
export async function measureRotatingRead(
  context: BenchContext,
  samples: SampleKey[],
  settings: LoadSettings,
): Promise<Latency> {
  const keys = samples.filter((sample) => sample.intent === "api").map((sample) => sample.key);
  let next = 0;
  const options = (seconds: number): autocannon.Options => ({
    url: `${context.rekeyURL}/api/v3/core/users/me/`,
    connections: settings.connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          headers: { ...request.headers, authorization: `Bearer ${keys[next++ % keys.length]}` },
        }),
      },
    ],
  });
  if (settings.warmupSeconds > 0) await autocannon(options(settings.warmupSeconds));
  const result = await autocannon(options(settings.durationSeconds));
  return {
    name: ROTATING_READ,
    keys: keys.length,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
