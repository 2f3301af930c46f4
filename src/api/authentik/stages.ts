import { Type } from "@sinclair/typebox";
import { ValidationFailed } from "../../errors.js";
import { auditOf } from "../../http/context.js";
import {
  createEmailStage,
  deleteEmailStage,
  EMAIL_STAGE_DEFAULTS,
  type EmailStageInput,
  findEmailStageOrThrow,
  updateEmailStage,
} from "../../mail/stages/service.js";
import type { EmailStage, EmailStageField } from "../../mail/stages/store.js";
import { authenticateBearer, requireSuperuser } from "./auth.js";
import type { ApiDeps, TypedApp } from "./deps.js";
import {
  booleanParam,
  first,
  ListParams,
  PaginatedList,
  paginated,
  type RawQuery,
  readPageRequest,
} from "./pagination.js";
import { ErrorResponses, requestBody, Uuid } from "./schemas.js";
import { assertValidBody, uuidId } from "./steps.js";

const Int32 = Type.Integer({ minimum: -2147483648, maximum: 2147483647 });

/** The writable fields of authentik's EmailStageRequest; `password` is write-only. */
const EmailStageFields = {
  name: Type.String({ minLength: 1 }),
  use_global_settings: Type.Boolean(),
  host: Type.String({ minLength: 1 }),
  port: Int32,
  username: Type.String(),
  password: Type.String(),
  use_tls: Type.Boolean(),
  use_ssl: Type.Boolean(),
  timeout: Int32,
  from_address: Type.String({ minLength: 1, maxLength: 254 }),
  token_expiry: Type.String({ minLength: 1 }),
  subject: Type.String({ minLength: 1 }),
  template: Type.String({ minLength: 1 }),
  activate_user_on_success: Type.Boolean(),
};
const EmailStageRequest = requestBody(EmailStageFields, ["name"], "EmailStageRequest");
const PatchedEmailStageRequest = Type.Partial(Type.Object(EmailStageFields), {
  title: "PatchedEmailStageRequest",
});
const StageParams = Type.Object({ stage_uuid: Type.String() });

/** authentik's EmailStage response, in its serializer's key order; no `password`, ever. */
export const EmailStageSchema = Type.Object(
  {
    pk: Uuid,
    name: Type.String(),
    component: Type.String(),
    verbose_name: Type.String(),
    verbose_name_plural: Type.String(),
    meta_model_name: Type.String(),
    flow_set: Type.Array(Type.Object({})),
    use_global_settings: Type.Boolean(),
    host: Type.String(),
    port: Type.Integer(),
    username: Type.String(),
    use_tls: Type.Boolean(),
    use_ssl: Type.Boolean(),
    timeout: Type.Integer(),
    from_address: Type.String(),
    token_expiry: Type.String(),
    subject: Type.String(),
    template: Type.String(),
    activate_user_on_success: Type.Boolean(),
  },
  { title: "EmailStage" },
);

export function serializeEmailStage(stage: EmailStage) {
  return {
    pk: stage.id,
    name: stage.name,
    component: "ak-stage-email-form",
    verbose_name: "Email Stage",
    verbose_name_plural: "Email Stages",
    meta_model_name: "authentik_stages_email.emailstage",
    // Rekey has no flow engine; the TypeScript client requires the array (authentik-v3.md §3.6).
    flow_set: [],
    use_global_settings: stage.useGlobalSettings,
    host: stage.host,
    port: stage.port,
    username: stage.username,
    use_tls: stage.useTLS,
    use_ssl: stage.useSSL,
    timeout: stage.timeout,
    from_address: stage.fromAddress,
    token_expiry: stage.tokenExpiry,
    subject: stage.subject,
    template: stage.template,
    activate_user_on_success: stage.activateUserOnSuccess,
  };
}

type EmailStageBody = Partial<{
  name: string;
  use_global_settings: boolean;
  host: string;
  port: number;
  username: string;
  password: string;
  use_tls: boolean;
  use_ssl: boolean;
  timeout: number;
  from_address: string;
  token_expiry: string;
  subject: string;
  template: string;
  activate_user_on_success: boolean;
}>;

/** Wire body → domain input; only given fields are set, so PUT and PATCH leave the rest alone. */
function stageInput(body: EmailStageBody): Partial<EmailStageInput> {
  const input: Partial<EmailStageInput> = {};
  if (body.name !== undefined) input.name = body.name;
  if (body.use_global_settings !== undefined) input.useGlobalSettings = body.use_global_settings;
  if (body.host !== undefined) input.host = body.host;
  if (body.port !== undefined) input.port = body.port;
  if (body.username !== undefined) input.username = body.username;
  if (body.password !== undefined) input.password = body.password;
  if (body.use_tls !== undefined) input.useTLS = body.use_tls;
  if (body.use_ssl !== undefined) input.useSSL = body.use_ssl;
  if (body.timeout !== undefined) input.timeout = body.timeout;
  if (body.from_address !== undefined) input.fromAddress = body.from_address;
  if (body.token_expiry !== undefined) input.tokenExpiry = body.token_expiry;
  if (body.subject !== undefined) input.subject = body.subject;
  if (body.template !== undefined) input.template = body.template;
  if (body.activate_user_on_success !== undefined)
    input.activateUserOnSuccess = body.activate_user_on_success;
  return input;
}

const ORDERING: Record<string, EmailStageField> = {
  name: "name",
  use_global_settings: "use_global_settings",
  host: "host",
  port: "port",
  username: "username",
  use_tls: "use_tls",
  use_ssl: "use_ssl",
  timeout: "timeout",
  from_address: "from_address",
  token_expiry: "token_expiry",
  subject: "subject",
  template: "template",
  activate_user_on_success: "activate_user_on_success",
};

const STRING_FILTERS = [
  "name",
  "host",
  "username",
  "from_address",
  "subject",
  "template",
  "token_expiry",
] as const;
const BOOLEAN_FILTERS = ["use_global_settings", "use_tls", "use_ssl", "activate_user_on_success"] as const;

/** django-filter's NumberFilter: an integer, else 400 `Enter a number.` */
function integerFilter(query: RawQuery, name: string): number | undefined {
  const value = first(query, name);
  if (value === undefined || value === "") {
    return undefined;
  }
  if (!/^-?\d+$/.test(value.trim())) {
    throw ValidationFailed.field(name, "Enter a number.");
  }
  const number = Number(value);
  // The columns are 32-bit integers: PostgreSQL refuses to compare them with anything larger.
  if (number > 2_147_483_647 || number < -2_147_483_648) {
    throw ValidationFailed.field(name, "Ensure this value is less than or equal to 2147483647.");
  }
  return number;
}

function listFilters(query: RawQuery) {
  return {
    name: first(query, "name"),
    host: first(query, "host"),
    port: integerFilter(query, "port"),
    username: first(query, "username"),
    fromAddress: first(query, "from_address"),
    subject: first(query, "subject"),
    template: first(query, "template"),
    timeout: integerFilter(query, "timeout"),
    tokenExpiry: first(query, "token_expiry"),
    useGlobalSettings: booleanParam(query, "use_global_settings"),
    useTLS: booleanParam(query, "use_tls"),
    useSSL: booleanParam(query, "use_ssl"),
    activateUserOnSuccess: booleanParam(query, "activate_user_on_success"),
  };
}

const StageListParams = Type.Object({
  ...ListParams,
  ...Object.fromEntries(STRING_FILTERS.map((name) => [name, Type.Optional(Type.String())])),
  ...Object.fromEntries(BOOLEAN_FILTERS.map((name) => [name, Type.Optional(Type.String())])),
  port: Type.Optional(Type.String()),
  timeout: Type.Optional(Type.String()),
});

/** `/stages/email/` (authentik-v3.md §3.6): superusers only, lookup `stage_uuid`. */
export function emailStageRoutes(app: TypedApp, deps: ApiDeps): void {
  const superuserOnly = [authenticateBearer(deps), requireSuperuser];
  const stores = deps.persistence.stores;

  app.get(
    "/stages/email/",
    {
      schema: {
        tags: ["stages"],
        querystring: StageListParams,
        response: { 200: PaginatedList(EmailStageSchema, "EmailStage"), ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) => {
      const query = request.query as RawQuery;
      const page = readPageRequest(query, ORDERING, ["name"]);
      const result = await stores.emailStages.listEmailStages(
        request.tenant.id,
        listFilters(query),
        page.list,
      );
      return paginated(page, result, serializeEmailStage);
    },
  );

  app.post(
    "/stages/email/",
    {
      schema: {
        tags: ["stages"],
        body: EmailStageRequest,
        response: { 201: EmailStageSchema, ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request, reply) => {
      assertValidBody(request);
      const input = {
        ...EMAIL_STAGE_DEFAULTS,
        ...stageInput(request.body as EmailStageBody),
      } as EmailStageInput;
      const stage = await createEmailStage(deps, auditOf(request, "rekey.api"), input);
      return reply.code(201).send(serializeEmailStage(stage));
    },
  );

  app.get(
    "/stages/email/:stage_uuid/",
    {
      schema: {
        tags: ["stages"],
        params: StageParams,
        response: { 200: EmailStageSchema, ...ErrorResponses },
      },
      preHandler: superuserOnly,
    },
    async (request) => {
      const stage = await findEmailStageOrThrow(stores, request.tenant.id, uuidId(request.params.stage_uuid));
      return serializeEmailStage(stage);
    },
  );

  for (const method of ["put", "patch"] as const) {
    app[method](
      "/stages/email/:stage_uuid/",
      {
        schema: {
          tags: ["stages"],
          params: StageParams,
          body: method === "put" ? EmailStageRequest : PatchedEmailStageRequest,
          response: { 200: EmailStageSchema, ...ErrorResponses },
        },
        preHandler: superuserOnly,
      },
      async (request) => {
        const id = uuidId(request.params.stage_uuid);
        await findEmailStageOrThrow(stores, request.tenant.id, id);
        assertValidBody(request);
        const stage = await updateEmailStage(
          deps,
          auditOf(request, "rekey.api"),
          id,
          stageInput(request.body as EmailStageBody),
        );
        return serializeEmailStage(stage);
      },
    );
  }

  app.delete(
    "/stages/email/:stage_uuid/",
    {
      schema: { tags: ["stages"], params: StageParams, response: { 204: Type.Null(), ...ErrorResponses } },
      preHandler: superuserOnly,
    },
    async (request, reply) => {
      await deleteEmailStage(deps, auditOf(request, "rekey.api"), uuidId(request.params.stage_uuid));
      return reply.code(204).send(null);
    },
  );
}
