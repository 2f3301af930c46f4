import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import {
  CODE_INVALID,
  createIdentity,
  defaultTenantId,
  fetchFlow,
  flowAfter,
  harness,
  KratosClient,
  MESSAGE_CODE_SENT,
  messageIds,
  MODES,
  P,
  signInWithPassword,
  startRecovery,
  submitCode,
  submitEmail,
} from "./helpers.js";

/** The parts of a flow that do not depend on which address was submitted, or when. */
function shape(flow: Record<string, any>): unknown {
  return {
    keys: Object.keys(flow),
    state: flow.state,
    messages: flow.ui.messages,
    nodes: flow.ui.nodes.map((n: any) => ({
      ...n,
      attributes: {
        ...n.attributes,
        value: n.attributes.name === "method" ? n.attributes.value : typeof n.attributes.value,
      },
    })),
  };
}

for (const dialect of DIALECTS) {
  describe(`recovery address submission on ${dialect}`, () => {
    for (const mode of MODES) {
      test(`${mode}: a missing address says "Property email is missing." on the email node`, async (t) => {
        const { rekey } = await harness(t, dialect);
        const client = new KratosClient(rekey, mode);
        const flow = await startRecovery(client);
        const response = await submitEmail(client, flow, "");
        if (mode !== "browser") assert.equal(response.statusCode, 400, response.body);
        const shown = await flowAfter(client, response);
        assert.equal(shown.id, flow.id, "the same flow");
        assert.equal(shown.state, "choose_method");
        const email = shown.ui.nodes.find((n: any) => n.attributes.name === "email");
        assert.deepEqual(email.messages, [
          { id: 4000002, text: "Property email is missing.", type: "error", context: { property: "email" } },
        ]);
        assert.equal(shown.ui.messages, undefined);
      });

      test(`${mode}: what is not an email address is refused with 4000040`, async (t) => {
        const { rekey } = await harness(t, dialect);
        const client = new KratosClient(rekey, mode);
        for (const value of ["\\", "asdf", "...", "a@example.com,b@example.com"]) {
          const flow = await startRecovery(client);
          const response = await submitEmail(client, flow, value);
          if (mode !== "browser") assert.equal(response.statusCode, 400, response.body);
          const shown = await flowAfter(client, response);
          assert.equal(shown.id, flow.id);
          const email = shown.ui.nodes.find((n: any) => n.attributes.name === "email");
          assert.deepEqual(email.messages, [
            { id: 4000040, text: "Enter a valid email address", type: "error", context: { value } },
          ]);
        }
      });

      test(`${mode}: known and unknown addresses get the same answer, and only the known one a mail`, async (t) => {
        const h = await harness(t, dialect);
        await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
        const client = new KratosClient(h.rekey, mode);
        const known = await submitEmail(client, await startRecovery(client), "jane@example.com");
        const unknown = await submitEmail(client, await startRecovery(client), "nobody@example.com");
        assert.equal(known.statusCode, unknown.statusCode);
        if (mode === "browser") {
          assert.equal(known.body, "");
          assert.equal(unknown.body, "");
        }
        const knownFlow = await flowAfter(client, known);
        const unknownFlow = await flowAfter(client, unknown);
        assert.deepEqual(shape(knownFlow), shape(unknownFlow));
        assert.deepEqual(knownFlow.ui.messages, [{ id: 1060003, text: MESSAGE_CODE_SENT, type: "info" }]);
        const mails = await h.mails();
        assert.deepEqual(
          mails.map((mail) => mail.envelope.to),
          [["jane@example.com"]],
          "no mail to an unknown address while notification is off",
        );
      });
    }

    test("an unknown address is told that someone tried, without a code, when notification is on", async (t) => {
      const h = await harness(t, dialect, { env: { REKEY_RECOVERY_NOTIFY_UNKNOWN_RECIPIENTS: "true" } });
      const client = new KratosClient(h.rekey, "api");
      const response = await submitEmail(client, await startRecovery(client), "Nobody@Example.com");
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(messageIds(response.json()), [1060003]);
      const mails = await h.mails();
      assert.equal(mails.length, 1);
      assert.deepEqual(mails[0]!.envelope.to, ["nobody@example.com"]);
      assert.equal(mails[0]!.parsed.subject, "Account access attempted");
      assert.match(
        mails[0]!.parsed.text ?? "",
        /If this was you, check if you signed up using a different address\./,
      );
      assert.doesNotMatch(mails[0]!.parsed.text ?? "", /\d{6}/);
    });

    test("an address shared by two users is treated as unknown: no code is mailed", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "shared@example.com" });
      await createIdentity(h.rekey, "june", { email: "Shared@example.com" });
      const client = new KratosClient(h.rekey, "api");
      const response = await submitEmail(client, await startRecovery(client), "shared@example.com");
      assert.equal(response.statusCode, 200);
      assert.deepEqual(messageIds(response.json()), [1060003]);
      assert.equal((await h.mails()).length, 0);
    });

    test("the address is looked up NFKC-normalised, trimmed and lower-cased", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api");
      // U+FF4A is a full-width "j": NFKC makes it a plain one.
      const response = await submitEmail(client, await startRecovery(client), "  \uFF2Aane@EXAMPLE.com ");
      assert.equal(response.statusCode, 200, response.body);
      assert.equal((await h.mails()).length, 1);
    });

    test("resending invalidates the first code but keeps the flow's submission count", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "api");
      const flow = await startRecovery(client);
      await submitEmail(client, flow, "jane@example.com");
      const first = await h.codeFor("jane@example.com");
      const resent = await submitEmail(client, flow, "jane@example.com");
      assert.equal(resent.statusCode, 200, resent.body);
      const second = await h.codeFor("jane@example.com");
      assert.equal((await h.mails()).length, 2);
      if (first !== second) {
        const wrong = await submitCode(client, flow, first);
        assert.equal(wrong.statusCode, 200);
        assert.deepEqual(wrong.json().ui.messages, [{ id: 4060006, text: CODE_INVALID, type: "error" }]);
      }
      const stored = await h.rekey.deps.persistence.stores.selfServiceRecovery.findRecoveryFlow(
        await defaultTenantId(h.rekey),
        flow.id,
      );
      assert.equal(stored?.submitCount, first !== second ? 1 : 0);
      const right = await submitCode(client, flow, second);
      assert.equal(right.statusCode, 200, right.body);
      assert.equal(right.json().state, "passed_challenge");
    });

    test("the resend button of the code form posts the address again (browser form)", async (t) => {
      const h = await harness(t, dialect);
      await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const client = new KratosClient(h.rekey, "browser");
      const flow = await startRecovery(client);
      await submitEmail(client, flow, "jane@example.com");
      const sent = await fetchFlow(client, "recovery", flow.id);
      const resend = sent.ui.nodes.find((n: any) => n.attributes.name === "email");
      assert.deepEqual(resend.meta.label, { id: 1070008, text: "Resend code", type: "info" });
      const response = await client.submit(sent.ui.action, {
        csrf_token: sent.ui.nodes[0].attributes.value,
        method: "code",
        code: "",
        email: resend.attributes.value,
      });
      assert.equal(response.statusCode, 303);
      assert.equal((await h.mails()).length, 2);
    });

    test("a method other than the flow's is refused with 4010005", async (t) => {
      const { rekey } = await harness(t, dialect);
      const client = new KratosClient(rekey, "api");
      const flow = await startRecovery(client);
      const response = await client.submit(flow.ui.action, { method: "link", email: "jane@example.com" });
      assert.equal(response.statusCode, 400, response.body);
      assert.deepEqual(response.json().ui.messages, [
        {
          id: 4010005,
          text: "Could not find a strategy to recover your account with. Did you fill out the form correctly?",
          type: "error",
        },
      ]);
    });

    test("transient_payload is in the submission's answer but not kept on the flow", async (t) => {
      const { rekey } = await harness(t, dialect);
      const client = new KratosClient(rekey, "api");
      const flow = await startRecovery(client);
      const response = await submitEmail(client, flow, "x@example.com", {
        transient_payload: { campaign: "spring" },
      });
      assert.deepEqual(response.json().transient_payload, { campaign: "spring" });
      // Transient, as Kratos' flows (`db:"-"`): it may hold secrets, so it is not stored
      // (transient-payload.test.ts follows it into the sealed mail template data).
      assert.equal((await fetchFlow(client, "recovery", flow.id)).transient_payload, undefined);
      const form = new KratosClient(rekey, "browser");
      const browserFlow = await startRecovery(form);
      const posted = await form.submit(browserFlow.ui.action, {
        method: "code",
        email: "x@example.com",
        csrf_token: browserFlow.ui.nodes[0].attributes.value,
        "transient_payload.campaign": "autumn",
      });
      assert.equal(posted.statusCode, 303, posted.body);
      const shown = await fetchFlow(form, "recovery", browserFlow.id);
      assert.equal(shown.state, "sent_email");
      assert.equal(shown.transient_payload, undefined);
    });

    for (const mode of MODES) {
      test(`${mode}: a signed-in client submitting an address gets session_already_available`, async (t) => {
        const h = await harness(t, dialect);
        await createIdentity(h.rekey, "jane", {
          email: "jane@example.com",
          password: "correct-horse-battery-1",
        });
        const client = new KratosClient(h.rekey, mode);
        const flow = await startRecovery(client);
        // Signed in elsewhere (signing in here would also renew the anti-CSRF cookie of this flow).
        const other = new KratosClient(h.rekey, mode);
        await signInWithPassword(other, "jane@example.com", "correct-horse-battery-1");
        client.sessionToken = other.sessionToken;
        if (other.cookies.has("ory_kratos_session"))
          client.cookies.set("ory_kratos_session", other.cookies.get("ory_kratos_session")!);
        const response = await submitEmail(client, flow, "jane@example.com");
        if (mode === "browser") {
          assert.equal(response.statusCode, 303);
          assert.equal(response.headers["location"], `${P}/ui/settings`);
        } else {
          assert.equal(response.statusCode, 400, response.body);
          assert.deepEqual(response.json(), {
            error: {
              id: "session_already_available",
              code: 400,
              status: "Bad Request",
              reason: "A valid session was detected and thus recovery is not possible.",
              message: "The request was malformed or contained invalid parameters",
            },
          });
        }
        assert.equal((await h.mails()).length, 0);
      });
    }
  });
}
