import QRCode from "qrcode";
import type { NodeGroup, UINode } from "../selfservice/nodes.js";
import type { FlowMessage } from "../selfservice/store.js";
import type { MFASettingsView } from "./settings.js";
import { isLowOnBackupCodes } from "./settings.js";

/**
 * The `totp` and `lookup_secret` parts of the settings form, in upstream Kratos' node names, groups
 * and message ids (ory/kratos `ui/node/identifiers.go`, `text/message_settings.go`,
 * `selfservice/strategy/{totp,lookup}/nodes.go`). Besides input nodes they use an image node (the
 * QR code) and text nodes (the secret, the codes), which only these methods have.
 */

export interface ImageNode {
  nodeType: "img";
  group: NodeGroup;
  id: string;
  src: string;
  width: number;
  height: number;
  label: FlowMessage;
}

export interface TextNode {
  nodeType: "text";
  group: NodeGroup;
  id: string;
  text: FlowMessage;
  label: FlowMessage;
}

/** A node of the settings form: an input node as every flow has, or an image or text node. */
export type SettingsNode = UINode | ImageNode | TextNode;

export function isInputNode(node: SettingsNode): node is UINode {
  return !("nodeType" in node);
}

function info(id: number, text: string, context?: Record<string, unknown>): FlowMessage {
  return context === undefined ? { id, text, type: "info" } : { id, text, type: "info", context };
}

/** Upstream's texts for these nodes, and Rekey's own (19xxxxx) where upstream has none. */
export const MFA_TEXT = {
  unlinkTOTP: info(1050004, "Unlink TOTP Authenticator App"),
  totpQR: info(1050005, "Authenticator app QR code"),
  revealLookup: info(1050007, "Reveal backup recovery codes"),
  regenerateLookup: info(1050008, "Generate new backup recovery codes"),
  lookupCodesLabel: info(1050010, "These are your back up recovery codes. Please keep them in a safe place!"),
  confirmLookup: info(1050011, "Confirm backup recovery codes"),
  disableLookup: info(1050016, "Disable this method"),
  totpSecretLabel: info(
    1050017,
    "This is your authenticator app secret. Use it if you can not scan the QR code.",
  ),
  save: info(1070003, "Save"),
  verifyCode: info(1070006, "Verify code"),
  // Rekey keeps only HMACs of backup codes, so upstream's "reveal" has nothing to show.
  notRevealable: info(
    1902014,
    "Backup recovery codes are shown only once, when they are generated. Generate new codes to see a new set.",
  ),
} as const;

/** 1050006: the TOTP secret as text. */
function totpSecret(secret: string): FlowMessage {
  return info(1050006, secret, { secret });
}

/** 1050015 listing 1050009 per code, as upstream shows fresh codes. */
function lookupSecretList(codes: readonly string[]): FlowMessage {
  const secrets = codes.map((code) => info(1050009, code, { secret: code }));
  return info(1050015, codes.join(", "), { secrets });
}

/** Shown on the regenerate button when a user is down to two unused codes or fewer (same id as the pages). */
export function lowBackupCodes(left: number): FlowMessage {
  return info(1902013, `Only ${left} backup code${left === 1 ? "" : "s"} left. Generate new ones.`, {
    remaining: left,
  });
}

function submit(group: NodeGroup, name: string, value: string, label: FlowMessage): UINode {
  return { group, attributes: { name, type: "submit", value }, messages: [], label };
}

/** The flow's messages that belong to `name`, without their `node` field. */
function messagesFor(messages: readonly FlowMessage[], name: string): FlowMessage[] {
  return messages.filter((message) => message.node === name).map(({ node: _node, ...message }) => message);
}

function totpNodes(
  view: MFASettingsView,
  qrDataURL: string | null,
  messages: readonly FlowMessage[],
): SettingsNode[] {
  if (view.totpLinked || view.enrolment === null || qrDataURL === null) {
    const unlink = submit("totp", "totp_unlink", "true", MFA_TEXT.unlinkTOTP);
    unlink.attributes.required = true;
    return [unlink];
  }
  const code: UINode = {
    group: "totp",
    attributes: { name: "totp_code", type: "text", required: true },
    messages: messagesFor(messages, "totp_code"),
    label: MFA_TEXT.verifyCode,
  };
  return [
    {
      nodeType: "img",
      group: "totp",
      id: "totp_qr",
      src: qrDataURL,
      width: 256,
      height: 256,
      label: MFA_TEXT.totpQR,
    },
    {
      nodeType: "text",
      group: "totp",
      id: "totp_secret_key",
      text: totpSecret(view.enrolment.secretBase32),
      label: MFA_TEXT.totpSecretLabel,
    },
    code,
    submit("totp", "method", "totp", MFA_TEXT.save),
  ];
}

function lookupNodes(view: MFASettingsView): SettingsNode[] {
  if (view.pendingCodes !== null) {
    return [
      {
        nodeType: "text",
        group: "lookup_secret",
        id: "lookup_secret_codes",
        text: lookupSecretList(view.pendingCodes),
        label: MFA_TEXT.lookupCodesLabel,
      },
      submit("lookup_secret", "lookup_secret_confirm", "true", MFA_TEXT.confirmLookup),
    ];
  }
  const regenerate = submit("lookup_secret", "lookup_secret_regenerate", "true", MFA_TEXT.regenerateLookup);
  if (view.backupCodesLeft === null) {
    return [regenerate];
  }
  if (isLowOnBackupCodes(view.backupCodesLeft)) {
    regenerate.messages.push(lowBackupCodes(view.backupCodesLeft));
  }
  return [regenerate, submit("lookup_secret", "lookup_secret_disable", "true", MFA_TEXT.disableLookup)];
}

/** The otpauth URI as an inline SVG image (`img-src 'self' data:` lets it through the pages' CSP). */
export async function qrDataURL(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: "svg", margin: 2, errorCorrectionLevel: "M" });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
}

/** The `totp` and `lookup_secret` nodes, after the password nodes. */
export async function mfaSettingsNodes(
  view: MFASettingsView,
  messages: readonly FlowMessage[],
): Promise<SettingsNode[]> {
  const qr = view.enrolment === null ? null : await qrDataURL(view.enrolment.uri);
  return [...totpNodes(view, qr, messages), ...lookupNodes(view)];
}
