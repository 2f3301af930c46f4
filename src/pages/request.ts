import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../app.js";
import { requestOrigin } from "../http/context.js";
import { requestRecoveryByEmail } from "../recovery/selfservice.js";
import { issueCSRFToken, verifyCSRFToken } from "./csrf.js";
import { type PagesApp, rejectInvalidForm, requesterOf, sendPage } from "./steps.js";
import { PATHS, recoveryRequestedPage, recoveryRequestPage } from "./views.js";

/** "Forgot your password?": an address in, the same answer out whether or not it names an account. */

const RecoveryRequestForm = Type.Object({
  csrf_token: Type.String(),
  // RFC 5321 caps a path at 256 octets; anything longer names no mailbox.
  email: Type.String({ maxLength: 320 }),
});

export function recoveryRequestPages(app: PagesApp, deps: AppDeps): void {
  app.get(
    PATHS.recoveryRequest,
    { schema: { hide: true } },
    async function showRecoveryRequest(request, reply) {
      const csrfToken = issueCSRFToken(deps, request, reply);
      return sendPage(
        reply,
        200,
        recoveryRequestPage({ brand: deps.config.brandTitle, csrfToken, email: "", messages: [] }),
      );
    },
  );

  app.post(
    PATHS.recoveryRequest,
    {
      schema: { hide: true, body: RecoveryRequestForm },
      attachValidation: true,
      preHandler: [verifyCSRFToken, rejectInvalidForm],
    },
    async function requestRecovery(request, reply) {
      // No branch here: the service answers the same for known, unknown and malformed addresses.
      await requestRecoveryByEmail(
        deps,
        request.tenant,
        requesterOf(request),
        request.body.email,
        requestOrigin(request),
      );
      return sendPage(reply, 200, recoveryRequestedPage(deps.config.brandTitle));
    },
  );
}
