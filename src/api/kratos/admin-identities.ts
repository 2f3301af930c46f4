import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { auditOf, requestOrigin } from "../../http/context.js";
import type { SecondFactorSource } from "../../identities/credentials.js";
import {
  createIdentity,
  deleteIdentity,
  findIdentity,
  identityCredentials,
  listIdentities,
  removeCredential,
  updateIdentity,
} from "../../identities/service.js";
import { tenantPublicURL } from "../../tenants/service.js";
import type { User } from "../../users/store.js";
import type { ApiDeps } from "../authentik/deps.js";
import { isGoUUID, parseGoUUID } from "./decode.js";
import { KratosError } from "./errors.js";
import { serializeIdentity } from "./identity.js";
import { readCreateIdentityBody } from "./identity-body.js";
import { includeCredentialOf, linkHeader, readListQuery } from "./identity-list.js";
import { changesOfPatchedDocument, patchedDocument } from "./identity-patch.js";
import { sendJSON } from "./reply.js";

/** `/admin/identities` (kratos.md §3.1): identities are the tenant's users. */

interface IdentityRouteOptions {
  authenticate: onRequestAsyncHookHandler;
  secondFactors: SecondFactorSource;
}

type IdParams = { Params: { id: string } };

const NOT_FOUND_MESSAGE = "Unable to locate the resource";

/** The identity named by the path; an unknown or malformed id is the same 404 (kratos.md §3.1.4). */
async function identityOf(deps: ApiDeps, request: FastifyRequest<IdParams>): Promise<User> {
  const id = request.params.id;
  const user = isGoUUID(id)
    ? await findIdentity(deps.persistence.stores, request.tenant.id, parseGoUUID(id))
    : null;
  if (user === null) {
    throw new KratosError(404, { message: NOT_FOUND_MESSAGE });
  }
  return user;
}

function publicURLOf(deps: ApiDeps, request: FastifyRequest): Promise<string> {
  return tenantPublicURL(deps, request.tenant, requestOrigin(request));
}

export function identityRoutes(app: FastifyInstance, deps: ApiDeps, options: IdentityRouteOptions): void {
  const { authenticate, secondFactors } = options;

  /** The admin JSON of one identity, with its credentials. */
  async function adminIdentity(request: FastifyRequest, user: User): Promise<Record<string, unknown>> {
    const credentials = await identityCredentials(deps, secondFactors, request.tenant.id, [user]);
    return serializeIdentity(await publicURLOf(deps, request), user, {
      credentials: credentials.get(user.id) ?? {},
      admin: true,
    });
  }

  app.post("/identities", { onRequest: authenticate }, async function createIdentityRoute(request, reply) {
    const input = readCreateIdentityBody(request.body as Buffer | undefined);
    const user = await createIdentity(deps, auditOf(request, "rekey.kratos"), input);
    const publicURL = await publicURLOf(deps, request);
    reply.header("location", `${publicURL}/admin/identities/${user.uuid}`);
    return sendJSON(reply, 201, await adminIdentity(request, user));
  });

  app.get("/identities", { onRequest: authenticate }, async function listIdentitiesRoute(request, reply) {
    const query = readListQuery(request.url);
    const page = await listIdentities(deps, request.tenant.id, query.filter);
    const credentials = query.withCredentials
      ? await identityCredentials(deps, secondFactors, request.tenant.id, page.users)
      : null;
    const publicURL = await publicURLOf(deps, request);
    reply.header("link", linkHeader(request.url, query, page));
    return sendJSON(
      reply,
      200,
      page.users.map((user) =>
        serializeIdentity(publicURL, user, { credentials: credentials?.get(user.id) ?? null, admin: true }),
      ),
    );
  });

  app.get<IdParams>(
    "/identities/:id",
    { onRequest: authenticate },
    async function getIdentityRoute(request, reply) {
      includeCredentialOf(request.url); // validated; GET by id always shows credentials
      const user = await identityOf(deps, request);
      return sendJSON(reply, 200, await adminIdentity(request, user));
    },
  );

  app.patch<IdParams>(
    "/identities/:id",
    { onRequest: authenticate },
    async function patchIdentityRoute(request, reply) {
      const user = await identityOf(deps, request);
      const patched = patchedDocument(request.body as Buffer | undefined, await adminIdentity(request, user));
      const changes = changesOfPatchedDocument(user, patched);
      const updated = await updateIdentity(deps, auditOf(request, "rekey.kratos"), user, changes);
      return sendJSON(reply, 200, await adminIdentity(request, updated));
    },
  );

  app.delete<IdParams>(
    "/identities/:id",
    { onRequest: authenticate },
    async function deleteIdentityRoute(request, reply) {
      const user = await identityOf(deps, request);
      await deleteIdentity(deps, auditOf(request, "rekey.kratos"), user);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { id: string; type: string } }>(
    "/identities/:id/credentials/:type",
    { onRequest: authenticate },
    async function deleteIdentityCredentialsRoute(request, reply) {
      const user = await identityOf(deps, request);
      await removeCredential(
        deps,
        secondFactors,
        auditOf(request, "rekey.kratos"),
        user,
        request.params.type,
      );
      return reply.code(204).send();
    },
  );
}
