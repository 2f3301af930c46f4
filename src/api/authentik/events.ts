import { Type } from "@sinclair/typebox";
import { ObjectNotFound } from "../../errors.js";
import type { EventField } from "../../events/store.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import { first, ListParams, PaginatedList, paginated, type RawQuery, readPageRequest } from "./pagination.js";
import { ErrorResponses, Event } from "./schemas.js";
import { serializeEvent } from "./serialize.js";
import { uuidId } from "./steps.js";

const ORDERING: Record<string, EventField> = {
  created: "created",
  action: "action",
  app: "app",
  username: "username",
  client_ip: "client_ip",
};

export function eventRoutes(app: TypedApp, deps: ApiDeps): void {
  const superuserOnly = [authenticateBearer(deps), requireSuperuser];

  app.get(
    "/events/events/",
    {
      schema: {
        tags: ["events"],
        querystring: Type.Object({
          ...ListParams,
          action: Type.Optional(Type.String()),
          client_ip: Type.Optional(Type.String()),
          username: Type.Optional(Type.String()),
          context_model_pk: Type.Optional(Type.String()),
          context_model_name: Type.Optional(Type.String()),
          context_model_app: Type.Optional(Type.String()),
        }),
        response: { 200: PaginatedList(Event, "Event"), ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) => {
      const query = request.query as RawQuery;
      const page = readPageRequest(query, ORDERING, ["-created"]);
      const result = await deps.persistence.stores.events.listEvents(
        request.tenant.id,
        {
          action: first(query, "action"),
          clientIP: first(query, "client_ip"),
          username: first(query, "username"),
          modelPk: first(query, "context_model_pk"),
          modelName: first(query, "context_model_name"),
          modelApp: first(query, "context_model_app"),
        },
        page.list,
      );
      return paginated(page, result, serializeEvent);
    },
  );

  app.get(
    "/events/events/:event_uuid/",
    {
      schema: {
        tags: ["events"],
        params: Type.Object({ event_uuid: Type.String() }),
        response: { 200: Event, ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) => {
      const event = await deps.persistence.stores.events.findEvent(
        request.tenant.id,
        uuidId(request.params.event_uuid),
      );
      if (event === null) {
        throw new ObjectNotFound("Event");
      }
      return serializeEvent(event);
    },
  );
}
