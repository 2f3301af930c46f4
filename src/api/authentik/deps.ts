import type {
  FastifyInstance,
  FastifyBaseLogger,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { CoreDeps } from "../../deps.js";
import type { TenantResolver } from "../../tenants/resolver.js";
import type { SerializeContext } from "./serialize.js";

export interface ApiDeps extends CoreDeps {
  serialize: SerializeContext;
  tenantResolver: TenantResolver;
}

export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
