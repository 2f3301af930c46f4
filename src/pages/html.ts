/**
 * HTML that escapes by default (style.md, practice 13): every value interpolated into `html`…``
 * is escaped, arrays are joined item by item under the same rule, and only fragments built by
 * `html` itself or wrapped by `unsafeHTML()` pass through unchanged. Forgetting to escape is
 * therefore safe; raw HTML has to be asked for by name.
 */

/** Not exported: no other module can forge an HTML fragment except through `html` or `unsafeHTML`. */
const TRUSTED = Symbol("rekey.html");

/** A fragment of HTML that is safe to send as is. */
export interface HTML {
  readonly [TRUSTED]: string;
}

/**
 * What may be interpolated. `null`, `undefined` and `false` render nothing, so optional parts read
 * as `${hasMessage && html`…`}`; strings and numbers are escaped; HTML is kept.
 */
export type Interpolation = HTML | string | number | boolean | null | undefined | readonly Interpolation[];

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for element content and for quoted attribute values alike. */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

function isHTML(value: unknown): value is HTML {
  return typeof value === "object" && value !== null && TRUSTED in value;
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false || value === true) {
    // `true` renders nothing as well: it only ever comes from a `cond && …` that was meant to be false.
    return "";
  }
  if (isHTML(value)) {
    return value[TRUSTED];
  }
  if (Array.isArray(value)) {
    let joined = "";
    for (const item of value) {
      joined += render(item);
    }
    return joined;
  }
  return escapeHTML(String(value));
}

function trusted(text: string): HTML {
  return { [TRUSTED]: text };
}

/** The template tag: literal parts are trusted, every interpolated value is escaped. */
export function html(strings: TemplateStringsArray, ...values: readonly Interpolation[]): HTML {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) {
    out += render(values[i]) + strings[i + 1]!;
  }
  return trusted(out);
}

/** Marks text as HTML without escaping it. Only for markup Rekey wrote itself, never for input. */
export function unsafeHTML(markup: string): HTML {
  return trusted(markup);
}

/** The markup of a fragment, to send as a response body. */
export function htmlText(fragment: HTML): string {
  return fragment[TRUSTED];
}
