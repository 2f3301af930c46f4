/**
 * A small RFC 6902 JSON Patch for the identity PATCH route (kratos.md §3.1.5): `add`, `remove` and
 * `replace` over RFC 6901 pointers. Documents are plain JSON values; the input is never mutated.
 */

export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

export interface PatchOperation {
  op: string;
  path: string;
  value?: JSONValue;
  hasValue: boolean;
}

/** The patch does not apply (missing target, bad pointer, …); the message is shown to the client. */
export class PatchError extends Error {}

/** RFC 6901 reference tokens of a pointer; "" is the whole document. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") {
    return [];
  }
  if (!pointer.startsWith("/")) {
    throw new PatchError(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
  }
  return pointer
    .slice(1)
    .split("/")
    .map((token) => {
      if (/~[^01]|~$/.test(token)) {
        throw new PatchError(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
      }
      return token.replaceAll("~1", "/").replaceAll("~0", "~");
    });
}

/** `op.op` for each element of a decoded patch document; throws when it is not a list of objects. */
export function readPatch(document: unknown): PatchOperation[] {
  if (!Array.isArray(document)) {
    throw new PatchError(`json: cannot unmarshal ${kindOf(document)} into Go value of type jsonpatch.Patch`);
  }
  return document.map((element: unknown) => {
    if (typeof element !== "object" || element === null || Array.isArray(element)) {
      throw new PatchError(
        `json: cannot unmarshal ${kindOf(element)} into Go value of type jsonpatch.Operation`,
      );
    }
    const record = element as Record<string, JSONValue>;
    const op = typeof record["op"] === "string" ? record["op"] : "unknown";
    const path = typeof record["path"] === "string" ? record["path"] : null;
    if (path === null) {
      throw new PatchError("operation missing path field");
    }
    const hasValue = Object.hasOwn(record, "value");
    return { op, path, value: record["value"], hasValue };
  });
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

function arrayIndex(token: string, length: number, options: { append: boolean }): number {
  if (options.append && token === "-") {
    return length;
  }
  if (!/^(0|[1-9][0-9]*)$/.test(token)) {
    throw new PatchError(`invalid array index: ${token}`);
  }
  const index = Number(token);
  if (index > (options.append ? length : length - 1)) {
    throw new PatchError(`array index out of bounds: ${token}`);
  }
  return index;
}

function clone<T extends JSONValue>(value: T): T {
  return structuredClone(value);
}

/** The container that holds the pointer's last token, inside `root`. */
function parentOf(root: JSONValue, tokens: string[], operation: PatchOperation): JSONValue {
  let node = root;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) {
      node = node[arrayIndex(token, node.length, { append: false })]!;
    } else if (typeof node === "object" && node !== null && Object.hasOwn(node, token)) {
      node = node[token]!;
    } else {
      throw new PatchError(
        `${operation.op} operation does not apply: doc is missing path: ${operation.path}`,
      );
    }
  }
  if (typeof node !== "object" || node === null) {
    throw new PatchError(`${operation.op} operation does not apply: doc is missing path: ${operation.path}`);
  }
  return node;
}

function applyOne(document: JSONValue, operation: PatchOperation): JSONValue {
  const tokens = parsePointer(operation.path);
  if (operation.op !== "remove" && !operation.hasValue) {
    throw new PatchError(`${operation.op} operation does not apply: missing value`);
  }
  const value = operation.value === undefined ? null : clone(operation.value);
  if (tokens.length === 0) {
    if (operation.op === "remove") {
      throw new PatchError("remove operation does not apply: cannot remove the whole document");
    }
    return value;
  }
  const parent = parentOf(document, tokens, operation);
  const last = tokens[tokens.length - 1]!;
  const missing = new PatchError(
    `${operation.op} operation does not apply: doc is missing key: ${operation.path}`,
  );
  if (Array.isArray(parent)) {
    const index = arrayIndex(last, parent.length, { append: operation.op === "add" });
    if (operation.op === "add") parent.splice(index, 0, value);
    else if (operation.op === "remove") parent.splice(index, 1);
    else parent[index] = value;
    return document;
  }
  const object = parent as Record<string, JSONValue>;
  if (operation.op !== "add" && !Object.hasOwn(object, last)) {
    throw missing;
  }
  if (operation.op === "remove") {
    delete object[last];
  } else {
    // defineProperty: a `__proto__` key becomes a plain member, never the prototype.
    Object.defineProperty(object, last, { value, enumerable: true, writable: true, configurable: true });
  }
  return document;
}

/** `document` with the operations applied in order (on a copy); throws PatchError when one does not apply. */
export function applyPatch(document: JSONValue, operations: PatchOperation[]): JSONValue {
  let result = clone(document);
  for (const operation of operations) {
    result = applyOne(result, operation);
  }
  return result;
}
