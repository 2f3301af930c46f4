/**
 * Go's `encoding/json` as Kratos decodes request bodies with it (kratos.md §2.8, §3.1.2): the first
 * JSON value of the body (trailing data ignored, as `json.Decoder.Decode`), field names matched
 * case-insensitively, `null` leaving a field unset, and error texts in Go's words, which scripts
 * written against Kratos may match on.
 */

/** A decoding failure, with Go's error text (`json: unknown field "id"`, `unexpected EOF`, …). */
export class GoDecodeError extends Error {}

/** Lone surrogates become U+FFFD, as Go's decoder turns invalid UTF-16 escapes into. */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const ESCAPES: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

/** Go's `strconv.Quote` (`%q`): double quotes, Go escapes, printable Unicode kept as is. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of wellFormed(text)) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === "\\") {
      out += `\\${char}`;
    } else if (PRINTABLE.test(char)) {
      out += char;
    } else if (ESCAPES[char] !== undefined) {
      out += ESCAPES[char];
    } else if (code < 0x20 || code === 0x7f) {
      out += `\\x${code.toString(16).padStart(2, "0")}`;
    } else if (code < 0x10000) {
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    } else {
      out += `\\U${code.toString(16).padStart(8, "0")}`;
    }
  }
  return `${out}"`;
}

const HEX32 = /^[0-9a-fA-F]{32}$/;

/**
 * A UUID as gofrs/uuid's `UnmarshalText` reads it (canonical, 32 hex digits, braced or
 * `urn:uuid:`), returned in canonical lower case; throws with gofrs' error text otherwise.
 */
export function parseGoUUID(text: string): string {
  const length = Buffer.byteLength(text, "utf8");
  let hex: string | null = null;
  if (length === 32) {
    hex = text;
  } else if (length === 36) {
    hex = canonicalHex(text);
  } else if (length === 38 && text.startsWith("{") && text.endsWith("}")) {
    hex = canonicalHex(text.slice(1, -1));
  } else if (length === 45 && text.slice(0, 9).toLowerCase() === "urn:uuid:") {
    hex = canonicalHex(text.slice(9));
  } else if (length !== 38 && length !== 45) {
    throw new GoDecodeError(`uuid: incorrect UUID length ${length} in string ${goQuote(text)}`);
  }
  if (hex === null || !HEX32.test(hex)) {
    throw new GoDecodeError(`uuid: incorrect UUID format in string ${goQuote(text)}`);
  }
  const lower = hex.toLowerCase();
  return `${lower.slice(0, 8)}-${lower.slice(8, 12)}-${lower.slice(12, 16)}-${lower.slice(16, 20)}-${lower.slice(20)}`;
}

function canonicalHex(text: string): string | null {
  if (text.length !== 36 || text[8] !== "-" || text[13] !== "-" || text[18] !== "-" || text[23] !== "-") {
    return null;
  }
  return text.replaceAll("-", "");
}

/** True when `text` is a UUID in any form Kratos accepts. */
export function isGoUUID(text: string): boolean {
  try {
    parseGoUUID(text);
    return true;
  } catch {
    return false;
  }
}

/** Go's name for a JSON value's kind in `cannot unmarshal <kind> into …`. */
export function goJSONKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return "bool";
    case "number":
      return "number";
    case "string":
      return "string";
    default:
      return "object";
  }
}

/** Node's JSON.parse message in Go's words, as closely as a message without Go's scanner can be. */
function goSyntaxError(text: string, message: string): string {
  if (/Unexpected end of JSON input|Unterminated string/.test(message)) {
    return "unexpected EOF";
  }
  const position = /at position (\d+)/.exec(message);
  const char = position === null ? /Unexpected token '(.)'/u.exec(message)?.[1] : text[Number(position[1])];
  if (char === undefined) {
    return "invalid character looking for beginning of value";
  }
  const shown = char === "'" ? "'\\''" : `'${char}'`;
  if (/property name/.test(message)) {
    return `invalid character ${shown} looking for beginning of object key string`;
  }
  if (/after property value|after array element/.test(message)) {
    return `invalid character ${shown} after object key:value pair`;
  }
  return `invalid character ${shown} looking for beginning of value`;
}

/**
 * The first JSON value of `text`, as Go's `json.Decoder.Decode` reads it: whitespace only is `EOF`,
 * anything after the first complete value is left unread.
 */
export function decodeFirstJSONValue(text: string): unknown {
  if (text.trim() === "") {
    throw new GoDecodeError("EOF");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const message = (error as Error).message;
    const trailing = /Unexpected non-whitespace character after JSON at position (\d+)/.exec(message);
    if (trailing !== null) {
      return decodeFirstJSONValue(text.slice(0, Number(trailing[1])));
    }
    throw new GoDecodeError(goSyntaxError(text, message));
  }
}

/** How a struct field decodes: its Go type's name appears in type errors. */
export type GoFieldKind =
  | { kind: "string"; goType: string }
  | { kind: "uuid" }
  | { kind: "bool" }
  | { kind: "raw" }
  | { kind: "struct"; struct: GoStruct };

export interface GoStruct {
  /** `package.Type`, as Go names the top-level type (`code.createRecoveryCodeForIdentityBody`). */
  qualifiedName: string;
  /** The type's own name, as Go names the struct holding a field. */
  name: string;
  fields: Record<string, GoFieldKind>;
}

interface DecodeState {
  strict: boolean;
  /** The first type or unknown-field error: Go keeps decoding and reports it at the end. */
  saved: string | null;
}

function fieldOf(struct: GoStruct, key: string): string | null {
  if (Object.hasOwn(struct.fields, key)) {
    return key;
  }
  const lower = key.toLowerCase();
  return Object.keys(struct.fields).find((name) => name.toLowerCase() === lower) ?? null;
}

function decodeField(
  field: GoFieldKind,
  value: unknown,
  path: string,
  structName: string,
  state: DecodeState,
): unknown {
  const typeError = (goType: string): undefined => {
    state.saved ??= `json: cannot unmarshal ${goJSONKind(value)} into Go struct field ${structName}.${path} of type ${goType}`;
    return undefined;
  };
  switch (field.kind) {
    case "raw":
      return value;
    case "string":
      return typeof value === "string" ? wellFormed(value) : typeError(field.goType);
    case "bool":
      return typeof value === "boolean" ? value : typeError("bool");
    case "uuid":
      // A wrong UUID aborts decoding at once (UnmarshalText's error is returned, not saved).
      return typeof value === "string" ? parseGoUUID(value) : typeError("uuid.UUID");
    case "struct":
      if (typeof value !== "object" || Array.isArray(value)) {
        return typeError(`${field.struct.qualifiedName}`);
      }
      return decodeObject(field.struct, value as Record<string, unknown>, `${path}.`, state);
  }
}

function decodeObject(
  struct: GoStruct,
  object: Record<string, unknown>,
  prefix: string,
  state: DecodeState,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    const name = fieldOf(struct, key);
    if (name === null) {
      if (state.strict) {
        state.saved ??= `json: unknown field ${goQuote(key)}`;
      }
      continue;
    }
    if (value === null) {
      continue; // null leaves a Go field at its zero value
    }
    const decoded = decodeField(struct.fields[name]!, value, `${prefix}${name}`, struct.name, state);
    if (decoded !== undefined) {
      out[name] = decoded;
    }
  }
  return out;
}

/**
 * `text` decoded into `struct` as Go would: known fields only (unknown ones ignored, or an error
 * when `strict`), `null` fields left out. Throws GoDecodeError with Go's text.
 */
export function decodeGoStruct(
  text: string,
  struct: GoStruct,
  options: { strict: boolean },
): Record<string, unknown> {
  const value = decodeFirstJSONValue(text);
  if (value === null) {
    return {};
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new GoDecodeError(
      `json: cannot unmarshal ${goJSONKind(value)} into Go value of type ${struct.qualifiedName}`,
    );
  }
  const state: DecodeState = { strict: options.strict, saved: null };
  const decoded = decodeObject(struct, value as Record<string, unknown>, "", state);
  if (state.saved !== null) {
    throw new GoDecodeError(state.saved);
  }
  return decoded;
}
