/**
 * A mail body as a list of blocks, rendered twice: as plain text and as HTML. Writing each template
 * once as blocks keeps the two parts saying the same thing (kratos.md §3.7: "the HTML body is the
 * same text with the link as an anchor"), and the HTML part escapes every value by construction.
 */
export type Block =
  | { kind: "text"; text: string }
  | { kind: "link"; url: string }
  | { kind: "code"; code: string };

export function text(value: string): Block {
  return { kind: "text", text: value };
}

export function link(url: string): Block {
  return { kind: "link", url };
}

export function code(value: string): Block {
  return { kind: "code", code: value };
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for an HTML element body or a double- or single-quoted attribute value. */
export function escapeHTML(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

/** Paragraphs separated by one empty line, as the Kratos texts are written. */
export function renderText(blocks: readonly Block[]): string {
  const parts: string[] = [];
  for (const block of blocks) {
    parts.push(block.kind === "text" ? block.text : block.kind === "link" ? block.url : block.code);
  }
  return parts.join("\n\n");
}

function renderBlockHTML(block: Block): string {
  switch (block.kind) {
    case "text":
      return `<p>${escapeHTML(block.text).replaceAll("\n", "<br>\n")}</p>`;
    case "link":
      return `<p><a href="${escapeHTML(block.url)}">${escapeHTML(block.url)}</a></p>`;
    case "code":
      return `<p><strong style="font-size: 1.4em; letter-spacing: 0.1em;">${escapeHTML(block.code)}</strong></p>`;
  }
}

/** A small, complete HTML document; the subject is its title. Every interpolated value is escaped. */
export function renderHTML(subject: string, blocks: readonly Block[]): string {
  const body = blocks.map(renderBlockHTML).join("\n");
  return (
    `<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>${escapeHTML(subject)}</title>\n</head>\n` +
    `<body style="font-family: sans-serif; line-height: 1.5;">\n${body}\n</body>\n</html>\n`
  );
}

/** A header value on one line: CR and LF become spaces, so no value can start a header of its own. */
export function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, " ");
}
