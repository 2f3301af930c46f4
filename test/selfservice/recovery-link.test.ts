import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DIALECTS } from "../support/databases.js";
import {
  createIdentity,
  fetchFlow,
  harness,
  KratosClient,
  local,
  messageIds,
  P,
  startRecovery,
  userOf,
} from "./helpers.js";

const LINK_SENT =
  "An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.";

for (const dialect of DIALECTS) {
  describe(`self-service recovery with a link (REKEY_RECOVERY_USE=link) on ${dialect}`, () => {
    test("an address gets a mailed link that recovers the account once and verifies the address", async (t) => {
      const h = await harness(t, dialect, { env: { REKEY_RECOVERY_USE: "link" } });
      const jane = await createIdentity(h.rekey, "jane", { email: "jane@example.com" });
      const browser = new KratosClient(h.rekey, "browser");
      const flow = await startRecovery(browser);
      assert.equal(flow.active, "link");
      assert.deepEqual(
        flow.ui.nodes.map((n: any) => [n.group, n.attributes.name, n.attributes.value ?? null].slice(0, 2)),
        [
          ["default", "csrf_token"],
          ["link", "email"],
          ["link", "method"],
        ],
      );
      const response = await browser.submit(flow.ui.action, {
        method: "link",
        email: "jane@example.com",
        csrf_token: flow.ui.nodes[0].attributes.value,
      });
      assert.equal(response.statusCode, 303);
      const sent = await fetchFlow(browser, "recovery", flow.id);
      assert.equal(sent.state, "sent_email");
      assert.deepEqual(sent.ui.messages, [{ id: 1060002, text: LINK_SENT, type: "info" }]);
      const mails = await h.mails();
      assert.equal(mails.length, 1);
      assert.equal(mails[0]!.parsed.subject, "Recover access to your account");
      const link =
        /(http:\/\/localhost:9000\/self-service\/recovery\?flow=[0-9a-f-]+&token=[A-Za-z0-9]{32})/.exec(
          mails[0]!.parsed.text ?? "",
        )![1]!;
      const opened = await new KratosClient(h.rekey, "browser").get(local(link));
      assert.equal(opened.statusCode, 303, opened.body);
      assert.match(String(opened.headers["location"]), new RegExp(`^${P}/ui/settings\\?flow=`));
      assert.equal((await userOf(h.rekey, jane.pk)).emailVerified, true);
      const reopened = new KratosClient(h.rekey, "browser");
      const again = await reopened.get(local(link));
      assert.equal(again.statusCode, 303);
      assert.deepEqual(
        messageIds(
          await fetchFlow(
            reopened,
            "recovery",
            new URL(String(again.headers["location"])).searchParams.get("flow")!,
          ),
        ),
        [4060004],
      );
    });

    test("an unknown address gets the same answer and no mail", async (t) => {
      const h = await harness(t, dialect, { env: { REKEY_RECOVERY_USE: "link" } });
      const api = new KratosClient(h.rekey, "api");
      const flow = await startRecovery(api);
      const response = await api.submit(flow.ui.action, { method: "link", email: "nobody@example.com" });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(messageIds(response.json()), [1060002]);
      assert.equal((await h.mails()).length, 0);
    });
  });
}
