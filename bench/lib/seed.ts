import type { BenchContext } from "./scenarios.js";

const IN_FLIGHT = 8;

async function createUser(context: BenchContext, index: number): Promise<void> {
  const username = `bench-user-${String(index).padStart(5, "0")}`;
  const response = await fetch(`${context.rekeyURL}/api/v3/core/users/`, {
    method: "POST",
    headers: { authorization: `Bearer ${context.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ username, name: `Bench User ${index}`, email: `${username}@example.com` }),
  });
  const text = await response.text();
  if (response.status !== 201) {
    throw new Error(
      `seeding ${username}: POST /api/v3/core/users/ answered ${response.status}: ${text.slice(0, 300)}`,
    );
  }
}

/**
 * Creates `count` users through the API, the way an operator's scripts would, IN_FLIGHT at a time,
 * so the scenarios run on a table that is not empty. Resolves to the seconds it took.
 */
export async function seedUsers(context: BenchContext, count: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count) {
      const index = next;
      next += 1;
      await createUser(context, index);
    }
  }
  const workers: Promise<void>[] = [];
  for (let i = 0; i < IN_FLIGHT; i++) {
    workers.push(worker());
  }
  await Promise.all(workers);
  return (performance.now() - started) / 1000;
}
