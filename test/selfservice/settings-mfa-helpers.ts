import assert from "node:assert/strict";
import { Secret, TOTP } from "otpauth";
import { fetchFlow, type KratosClient } from "./helpers.js";

/** Helpers of the settings-mfa tests. */

/** The code an authenticator app shows for `secret` (base32) at `at`, computed with otpauth. */
export function appCode(secret: string, at: Date): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at.getTime() });
}

export function nodeNamed(flow: Record<string, any>, name: string): Record<string, any> | undefined {
  return (flow.ui.nodes as any[]).find((n) => n.attributes.name === name || n.attributes.id === name);
}

/** A new settings flow for the client's kind, as the UI (or an API client) reads it. */
export async function startSettings(client: KratosClient): Promise<Record<string, any>> {
  const response = await client.get(`/self-service/settings/${client.mode === "api" ? "api" : "browser"}`);
  if (client.mode === "browser") {
    assert.equal(response.statusCode, 303, response.body);
    const id = new URL(String(response.headers["location"])).searchParams.get("flow")!;
    return fetchFlow(client, "settings", id);
  }
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}
