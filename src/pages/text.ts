/**
 * Every text the pages show, keyed by a stable numeric id (style.md, practice 13). Where Kratos has a
 * message with the same meaning, its id is used (ory/kratos `text/id.go`, kratos.md §3.8), so
 * Kratos-style clients and translations keep working; texts that Kratos lacks use Rekey's own range
 * 19xxxxx (information) and 49xxxxx (errors), which Kratos does not assign.
 */
export type MessageType = "info" | "error" | "success";

export interface Message {
  readonly id: number;
  readonly type: MessageType;
  readonly text: string;
}

function info(id: number, text: string): Message {
  return { id, type: "info", text };
}

function error(id: number, text: string): Message {
  return { id, type: "error", text };
}

/** Labels, buttons and headings. */
export const LABELS = {
  signIn: info(1010001, "Sign in"),
  authenticationCode: info(1010006, "Authentication code"),
  password: info(1070001, "Password"),
  save: info(1070003, "Save"),
  email: info(1070007, "Email"),
  continue: info(1070009, "Continue"),
  identifier: info(1900001, "Username or email"),
  passwordRepeat: info(1900002, "Repeat the password"),
  resetMFA: info(1900003, "Also remove my second factors (authenticator apps and backup codes)"),
  signOut: info(1900004, "Sign out"),
  forgotPassword: info(1900005, "Forgot your password?"),
  backToSignIn: info(1900006, "Back to sign in"),
  sendLink: info(1900007, "Send me a link"),
  requestNewLink: info(1900008, "Request a new link"),
  recoverTitle: info(1900009, "Recover your account"),
  newPasswordTitle: info(1900010, "Set a new password"),
  forbiddenTitle: info(1900011, "Request refused"),
  tooManyTitle: info(1900012, "Too many attempts"),
  errorTitle: info(1900013, "Something went wrong"),
  accountTitle: info(1900014, "Your account"),
} as const;

/** Explanations and outcomes shown in the body of a page. */
export const MESSAGES = {
  // authentik-v3.md §3.3.3 gives the text; Kratos' 4060004 is the same case (token invalid or used).
  recoveryUnusable: error(4060004, "This link was already used or has expired. Please request a new link."),
  // The same text as the LoginFailed error and Kratos' 4000006 (kratos.md §3.6.5).
  loginFailed: error(
    4000006,
    "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
  ),
  // Kratos 1060002 is "a recovery link was sent"; Rekey's wording answers the same whether or not
  // the address exists (style.md, practice 12).
  recoveryLinkSent: info(1060002, "If an account uses that address, we have sent it a link to recover it."),
  continueExplained: info(1900101, "Select Continue to set a new password for your account."),
  passwordChanged: { id: 1900102, type: "success", text: "Your password has been changed." } as Message,
  recoverExplained: info(
    1900103,
    "Enter the email address of your account and we will send it a link to set a new password.",
  ),
  newPasswordExplained: info(1900104, "At least 8 characters."),
  tooManyAttempts: error(4900001, "Too many attempts. Please try again later."),
  csrfViolation: error(
    4900002,
    "The request was rejected to protect you from Cross-Site Request Forgery (CSRF). Please go back, reload the page and try again.",
  ),
  malformedForm: error(4900003, "The form could not be read. Please go back, reload the page and try again."),
  serverError: error(4900004, "Something went wrong on our side. Please try again later."),
  // authentik-v3.md §3.3.3 gives the text (Kratos' 4000008 words it differently).
  invalidCode: error(4900005, "Invalid code."),
} as const;

/** "Signed in as …": a message with a value, so it is a function of that value. */
export function signedInAs(username: string): Message {
  return info(1900105, `Signed in as ${username}`);
}

/** Names the account a recovery session is for, so nobody sets a password on the wrong one. */
export function newPasswordFor(username: string): Message {
  return info(1900106, `Choose a new password for ${username}.`);
}
