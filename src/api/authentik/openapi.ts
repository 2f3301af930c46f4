import type { FastifyInstance } from "fastify";

function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

interface OpenAPIDocument {
  paths?: Record<string, Record<string, { summary?: string; tags?: string[] }>>;
}

/** A plain HTML index of every operation, generated from the same document as /api/v3/schema/. */
function referencePage(document: OpenAPIDocument): string {
  const rows: string[] = [];
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      rows.push(
        `<tr><td><code>${escapeHTML(method.toUpperCase())}</code></td><td><code>${escapeHTML(path)}</code></td>` +
          `<td>${escapeHTML((operation.tags ?? []).join(", "))}</td></tr>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rekey API reference</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}td{padding:.2rem .8rem}</style></head>
<body><h1>Rekey API v3</h1><p>The OpenAPI document: <a href="/api/v3/schema/">YAML</a> ·
<a href="/api/v3/schema/?format=json">JSON</a>. Authenticate with <code>Authorization: Bearer &lt;api token&gt;</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>Group</th></tr></thead><tbody>${rows.join("")}</tbody></table></body></html>`;
}

/**
 * Serves the OpenAPI document generated from the route schemas at /api/v3/schema/ (YAML by default,
 * JSON with ?format=json or Accept: application/json) and an HTML index at /api/v3/.
 */
export function registerOpenAPIRoutes(app: FastifyInstance): void {
  app.get("/api/v3/schema/", { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const wantsJSON =
      query["format"] === "json" || (request.headers.accept ?? "").includes("application/json");
    if (wantsJSON) {
      return reply.type("application/json").send(app.swagger());
    }
    return reply.type("application/yaml; charset=utf-8").send(app.swagger({ yaml: true }));
  });
  app.get("/api/v3/", { schema: { hide: true } }, async (_request, reply) => {
    return reply.type("text/html; charset=utf-8").send(referencePage(app.swagger() as OpenAPIDocument));
  });
}
