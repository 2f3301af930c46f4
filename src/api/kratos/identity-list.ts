import type { IdentityListQuery } from "../../identities/service.js";
import type { User } from "../../users/store.js";
import { goQuote, isGoUUID, parseGoUUID } from "./decode.js";
import { KratosError } from "./errors.js";

/**
 * The query of `GET /admin/identities` (kratos.md §3.1.3): keyset pages by id, the `ids` and
 * `credentials_identifier` filters, `include_credential`, and the `Link` header.
 */

export const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const DEFAULT_PAGE_SIZE = 250;
const MAX_PAGE_SIZE = 500;
const MAX_IDS = 500;

/** Credential type names Kratos' ParseCredentialsType accepts. */
const CREDENTIAL_TYPE_NAMES = new Set([
  "password",
  "oidc",
  "totp",
  "lookup_secret",
  "webauthn",
  "code",
  "passkey",
  "profile",
  "saml",
]);

export interface IdentityListRequest {
  filter: IdentityListQuery;
  withCredentials: boolean;
  pageSize: number;
}

function searchParams(url: string): URLSearchParams {
  const index = url.indexOf("?");
  return new URLSearchParams(index === -1 ? "" : url.slice(index + 1));
}

/** Go's strconv.Atoi: optional sign and decimal digits within 64 bits, with Go's error texts. */
function atoi(text: string): number {
  if (!/^[+-]?[0-9]+$/.test(text)) {
    throw KratosError.badRequest(`strconv.Atoi: parsing ${goQuote(text)}: invalid syntax`);
  }
  const value = BigInt(text);
  if (value > 9223372036854775807n || value < -9223372036854775808n) {
    throw KratosError.badRequest(`strconv.Atoi: parsing ${goQuote(text)}: value out of range`);
  }
  return Number(value);
}

/** Every `include_credential` value of `url` must name a credential type; true when any was given. */
export function includeCredentialOf(url: string): boolean {
  const values = searchParams(url).getAll("include_credential");
  for (const value of values) {
    if (!CREDENTIAL_TYPE_NAMES.has(value)) {
      throw KratosError.badRequest(`Invalid value \`${value}\` for parameter \`include_credential\`.`);
    }
  }
  return values.length > 0;
}

function pageSizeOf(params: URLSearchParams): number {
  const raw = params.get("page_size") ?? params.get("per_page");
  if (raw === null || raw === "") {
    return DEFAULT_PAGE_SIZE;
  }
  const size = atoi(raw);
  if (size <= 0) return DEFAULT_PAGE_SIZE;
  return Math.min(size, MAX_PAGE_SIZE);
}

function pageTokenOf(params: URLSearchParams): string {
  const token = params.get("page_token");
  if (token === null || token === "") {
    return NIL_UUID;
  }
  if (!isGoUUID(token)) {
    throw KratosError.badRequest("The page token is invalid, do not craft your own page tokens");
  }
  return parseGoUUID(token);
}

function idsOf(params: URLSearchParams): string[] {
  const ids = params.getAll("ids");
  if (ids.length > MAX_IDS) {
    throw KratosError.badRequest(`The number of ids to filter must not exceed ${MAX_IDS}.`);
  }
  return ids.map((id) => {
    if (!isGoUUID(id)) {
      throw KratosError.badRequest(`Invalid UUID value \`${id}\` for parameter \`ids\`.`);
    }
    return parseGoUUID(id);
  });
}

/** The list request of `url`, checked in Kratos' order (identity/handler.go `list`). */
export function readListQuery(url: string): IdentityListRequest {
  const withCredentials = includeCredentialOf(url);
  const params = searchParams(url);
  if (params.has("page") && !params.has("page_token")) {
    throw KratosError.badRequest(
      "Legacy pagination is not supported. Please switch to using page_token and page_size.",
    );
  }
  const pageSize = pageSizeOf(params);
  const after = pageTokenOf(params);
  const ids = idsOf(params);
  const identifier = params.get("credentials_identifier") ?? "";
  if (ids.length > 0 && identifier !== "") {
    throw KratosError.badRequest("You cannot combine multiple filters in this API");
  }
  if (ids.length > 0) {
    return { filter: { kind: "ids", uuids: ids }, withCredentials, pageSize };
  }
  if (identifier !== "") {
    // The identifier search returns credentials, as Kratos does (kratos.md §3.1.3).
    return { filter: { kind: "identifier", identifier }, withCredentials: true, pageSize };
  }
  return { filter: { kind: "page", after, limit: pageSize }, withCredentials, pageSize };
}

/** Go's url.QueryEscape: unreserved characters kept, space as `+`, the rest percent-encoded. */
function queryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%20", "+");
}

/** Go's url.Values.Encode: keys sorted, each key's values in order. */
function encodeQuery(params: URLSearchParams): string {
  const keys = [...new Set(params.keys())].sort();
  const parts: string[] = [];
  for (const key of keys) {
    for (const value of params.getAll(key)) {
      parts.push(`${queryEscape(key)}=${queryEscape(value)}`);
    }
  }
  return parts.join("&");
}

function pageLink(url: string, pageSize: number, token: string, rel: string): string {
  const index = url.indexOf("?");
  const path = index === -1 ? url : url.slice(0, index);
  const params = searchParams(url);
  params.set("page_token", token);
  params.set("page_size", String(pageSize));
  return `<${path}?${encodeQuery(params)}>; rel="${rel}"`;
}

/** `Link: <…first…>; rel="first"` and, when more rows exist, `,<…next…>; rel="next"`. */
export function linkHeader(
  url: string,
  request: IdentityListRequest,
  page: { users: User[]; hasMore: boolean },
): string {
  const links = [pageLink(url, request.pageSize, NIL_UUID, "first")];
  const last = page.users[page.users.length - 1];
  if (page.hasMore && last !== undefined) {
    links.push(pageLink(url, request.pageSize, last.uuid, "next"));
  }
  return links.join(",");
}
