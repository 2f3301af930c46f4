import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config.js";
import { type AnyAppError, AppError } from "../errors.js";
import type { HTML } from "./html.js";
import { LABELS, type Message, MESSAGES } from "./text.js";
import { messagePage, PATHS, unusablePage } from "./views.js";
import { sendPage } from "./steps.js";

interface RenderedError {
  status: number;
  page: HTML;
  headers?: Record<string, string>;
}

function errorPage(brand: string, status: number, title: Message, message: Message): RenderedError {
  return { status, page: messagePage(brand, title, message) };
}

/**
 * Catalogue errors as pages. Handlers re-render their own form for the errors a person can fix
 * (a rejected password, wrong credentials); these are the pages for the rest.
 */
function renderAppError(brand: string, error: AnyAppError): RenderedError {
  switch (error.code) {
    case "recovery_unusable":
      return { status: 404, page: unusablePage(brand) };
    case "csrf_violation":
      return errorPage(brand, 403, LABELS.forbiddenTitle, MESSAGES.csrfViolation);
    case "rate_limited":
      return {
        status: 429,
        page: messagePage(brand, LABELS.tooManyTitle, MESSAGES.tooManyAttempts),
        headers: { "retry-after": String(error.retryAfterSeconds) },
      };
    case "login_failed":
      return {
        status: 400,
        page: messagePage(brand, LABELS.signIn, MESSAGES.loginFailed, {
          href: PATHS.login,
          label: LABELS.signIn,
        }),
      };
    case "password_rejected":
      return errorPage(brand, 400, LABELS.newPasswordTitle, {
        id: error.messageId,
        type: "error",
        text: error.message,
      });
    default:
      // Anything else a service refuses on a page is a request the form could not have sent.
      return errorPage(
        brand,
        error.status >= 500 ? 500 : error.status,
        LABELS.errorTitle,
        MESSAGES.malformedForm,
      );
  }
}

/** Fastify's own refusals: a wrong media type, a body too large, a schema that said no. */
function renderFastifyError(brand: string, error: FastifyError): RenderedError | null {
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return errorPage(brand, status, LABELS.errorTitle, MESSAGES.malformedForm);
  }
  if (error.validation !== undefined) {
    return errorPage(brand, 400, LABELS.errorTitle, MESSAGES.malformedForm);
  }
  return null;
}

/**
 * The pages' error handler: every error becomes a page of the layout, never JSON. Unknown errors
 * are a logged 500 whose page says nothing about them.
 */
export function pageErrorHandler(config: Pick<Config, "brandTitle">) {
  return function pageErrorHandler(
    error: FastifyError,
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply {
    const brand = config.brandTitle;
    let rendered: RenderedError | null;
    if (error instanceof AppError && error.expose) {
      rendered = renderAppError(brand, error as AnyAppError);
      if (error.code === "csrf_violation") {
        request.log.info({ reason: error.message }, "form refused: CSRF");
      }
    } else {
      rendered = renderFastifyError(brand, error);
    }
    if (rendered === null || rendered.status >= 500) {
      request.log.error({ err: error }, "unhandled error on a page");
      rendered = errorPage(brand, 500, LABELS.errorTitle, MESSAGES.serverError);
    }
    reply.headers(rendered.headers ?? {});
    return sendPage(reply, rendered.status, rendered.page);
  };
}
