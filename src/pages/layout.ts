import { type HTML, html } from "./html.js";
import type { Message } from "./text.js";

/** Served by the pages plugin; a file of its own so the CSP can forbid inline styles. */
export const STYLESHEET_PATH = "/static/rekey.css";

export interface PageView {
  /** The page's heading, also the document title. */
  title: Message;
  /** The installation's name (REKEY_BRAND_TITLE). */
  brand: string;
  /** Outcomes and errors, shown above the body; errors are announced to screen readers. */
  messages?: readonly Message[];
  body: HTML;
}

/** One message, carrying its id so clients and tests can key on it rather than on its text. */
export function messageBlock(message: Message): HTML {
  // role="alert" makes screen readers announce an error as soon as the re-rendered page loads.
  const role = message.type === "error" ? "alert" : "status";
  return html`<p class="message ${message.type}" role="${role}" data-message-id="${message.id}">${message.text}</p>`;
}

/** The one layout of every page: plain HTML, no script, one stylesheet from this server. */
export function layout(view: PageView): HTML {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${view.title.text} · ${view.brand}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<main class="card">
<p class="brand">${view.brand}</p>
<h1>${view.title.text}</h1>
${(view.messages ?? []).map(messageBlock)}
${view.body}
</main>
</body>
</html>
`;
}

/** The whole stylesheet: small, readable at any width, visible focus, enough contrast (WCAG AA). */
export const STYLESHEET = `:root {
  color-scheme: light dark;
  --text: #1b1f24;
  --muted: #4a5360;
  --page: #f3f5f8;
  --card: #ffffff;
  --border: #c5ccd6;
  --accent: #1f5fbf;
  --accent-text: #ffffff;
  --error: #a4161a;
  --error-bg: #fdecec;
  --success: #19632b;
  --success-bg: #e7f6ea;
  --info-bg: #eaf1fb;
}
@media (prefers-color-scheme: dark) {
  :root {
    --text: #e8ebef;
    --muted: #b4bcc7;
    --page: #15181c;
    --card: #1f2329;
    --border: #4a525d;
    --accent: #7fb0ff;
    --accent-text: #10151c;
    --error: #ffb4b0;
    --error-bg: #3a1c1d;
    --success: #9fe0ad;
    --success-bg: #173221;
    --info-bg: #1c2a3d;
  }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
html { font-size: 100%; }
body {
  margin: 0;
  min-height: 100vh;
  display: flex;
  align-items: flex-start;
  justify-content: center;
  padding: 3rem 1rem;
  background: var(--page);
  color: var(--text);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.card {
  width: 100%;
  max-width: 26rem;
  background: var(--card);
  border: 1px solid var(--border);
  border-radius: 0.75rem;
  padding: 2rem;
  box-shadow: 0 1px 3px rgb(0 0 0 / 0.08);
}
.brand { margin: 0 0 0.25rem; color: var(--muted); font-weight: 600; letter-spacing: 0.02em; }
h1 { margin: 0 0 1.25rem; font-size: 1.5rem; line-height: 1.25; }
p { margin: 0 0 1rem; }
form { margin: 0; }
.field { margin: 0 0 1rem; }
label { display: block; margin-bottom: 0.3rem; font-weight: 600; }
input[type="text"], input[type="email"], input[type="password"] {
  display: block;
  width: 100%;
  padding: 0.6rem 0.75rem;
  font: inherit;
  color: var(--text);
  background: var(--card);
  border: 1px solid var(--border);
  border-radius: 0.4rem;
}
.check { display: flex; gap: 0.6rem; align-items: flex-start; margin: 0 0 1.25rem; }
.check input { margin-top: 0.3rem; width: 1.1rem; height: 1.1rem; flex: none; }
.check label { font-weight: 400; margin: 0; }
button {
  display: inline-block;
  width: 100%;
  padding: 0.7rem 1rem;
  font: inherit;
  font-weight: 600;
  color: var(--accent-text);
  background: var(--accent);
  border: 1px solid var(--accent);
  border-radius: 0.4rem;
  cursor: pointer;
}
button:hover { filter: brightness(1.08); }
input:focus-visible, button:focus-visible, a:focus-visible {
  outline: 3px solid var(--accent);
  outline-offset: 2px;
}
a { color: var(--accent); }
.links { margin: 1.25rem 0 0; font-size: 0.95rem; }
.message { padding: 0.75rem 1rem; border-radius: 0.4rem; border-left: 4px solid; }
.message.error { color: var(--error); background: var(--error-bg); border-color: var(--error); }
.message.success { color: var(--success); background: var(--success-bg); border-color: var(--success); }
.message.info { background: var(--info-bg); border-color: var(--accent); }
.hint { color: var(--muted); font-size: 0.9rem; margin: 0.3rem 0 0; }
`;
