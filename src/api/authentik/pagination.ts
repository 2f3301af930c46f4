import { type TSchema, Type } from "@sinclair/typebox";
import type { ListQuery, Page } from "../../db/listing.js";
import { InvalidPage, ValidationFailed } from "../../errors.js";
import { parseDateTime } from "./format.js";

export const Pagination = Type.Object({
  next: Type.Number(),
  previous: Type.Number(),
  count: Type.Number(),
  current: Type.Number(),
  total_pages: Type.Number(),
  start_index: Type.Number(),
  end_index: Type.Number(),
});

/** `Paginated<Name>List`: DRF pagination as authentik sends it (authentik-v3.md §2.6). */
export function PaginatedList<T extends TSchema>(item: T, name: string) {
  return Type.Object(
    { pagination: Pagination, results: Type.Array(item), autocomplete: Type.Object({}) },
    { title: `Paginated${name}List` },
  );
}

/** The list parameters every list endpoint shares; filters are declared per endpoint. */
export const ListParams = {
  page: Type.Optional(Type.String({ description: "A page number within the paginated result set." })),
  page_size: Type.Optional(
    Type.String({ description: "Number of results to return per page (at most 100)." }),
  ),
  ordering: Type.Optional(Type.String({ description: "Which field to use when ordering the results." })),
  search: Type.Optional(Type.String({ description: "A search term." })),
};

export type RawQuery = Record<string, string | string[] | undefined>;

/**
 * Query values reach SQL only through `first` and `all`, which refuse NUL as Django's form fields do
 * (ProhibitNullCharactersValidator): PostgreSQL text cannot hold it, so asking would be a 500.
 */
function withoutNull(name: string, value: string): string {
  if (value.includes("\u0000")) {
    throw ValidationFailed.field(name, "Null characters are not allowed.");
  }
  return value;
}

/** The first value of a query parameter (repeats beyond the first are ignored, as Django's QueryDict.get). */
export function first(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : withoutNull(name, text);
}

/** Every value of a repeatable query parameter. */
export function all(query: RawQuery, name: string): string[] | undefined {
  const value = query[name];
  if (value === undefined) {
    return undefined;
  }
  return (Array.isArray(value) ? value : [value]).map((text) => withoutNull(name, text));
}

/** A date-time filter; malformed text is a field error, as django-filter's DateTimeFilter says it. */
export function dateTimeParam(query: RawQuery, name: string): Date | undefined {
  const text = first(query, name);
  if (text === undefined) {
    return undefined;
  }
  const parsed = parseDateTime(text);
  if (parsed === null) {
    throw ValidationFailed.field(name, "Enter a valid date/time.");
  }
  return parsed;
}

export function booleanParam(query: RawQuery, name: string): boolean | undefined {
  const value = first(query, name)?.toLowerCase();
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  return undefined;
}

function positiveInteger(text: string | undefined): number | null {
  return text !== undefined && /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : null;
}

export interface PageRequest<Field extends string> {
  list: ListQuery<Field>;
  page: number;
  pageSize: number;
}

/**
 * Reads page, page_size, ordering and search. Unknown ordering names are ignored; `fields` maps the
 * public names to the store's fields; `defaults` is the endpoint's default ordering.
 */
export function readPageRequest<Field extends string>(
  query: RawQuery,
  fields: Record<string, Field>,
  defaults: string[],
): PageRequest<Field> {
  const pageText = first(query, "page");
  const page = pageText === undefined ? 1 : positiveInteger(pageText);
  if (page === null) {
    throw new InvalidPage();
  }
  const pageSize = Math.min(positiveInteger(first(query, "page_size")) ?? 20, 100);
  const offset = (page - 1) * pageSize;
  // A page so far out that its offset leaves the safe integers (and SQL's bigint) cannot exist.
  if (!Number.isSafeInteger(offset)) {
    throw new InvalidPage();
  }
  const orderingText = first(query, "ordering");
  const names = orderingText === undefined || orderingText.trim() === "" ? defaults : orderingText.split(",");
  const ordering: ListQuery<Field>["ordering"] = [];
  for (const raw of names) {
    const name = raw.trim();
    const descending = name.startsWith("-");
    const field = fields[descending ? name.slice(1) : name];
    if (field !== undefined && Object.hasOwn(fields, descending ? name.slice(1) : name)) {
      ordering.push({ field, descending });
    }
  }
  const search = (first(query, "search") ?? "").split(" ").filter((term) => term !== "");
  return { list: { search, ordering, offset, limit: pageSize }, page, pageSize };
}

/** Wraps a page of results; a page past the end is `Invalid page.` (except page 1 of nothing). */
export function paginated<Row, Out>(
  request: PageRequest<string>,
  result: Page<Row>,
  serialise: (row: Row) => Out,
) {
  const totalPages = Math.max(1, Math.ceil(result.total / request.pageSize));
  if (request.page > totalPages) {
    throw new InvalidPage();
  }
  const start = result.total === 0 ? 0 : (request.page - 1) * request.pageSize + 1;
  return {
    pagination: {
      next: request.page < totalPages ? request.page + 1 : 0,
      previous: request.page > 1 ? request.page - 1 : 0,
      count: result.total,
      current: request.page,
      total_pages: totalPages,
      start_index: start,
      end_index: result.total === 0 ? 0 : start + result.rows.length - 1,
    },
    results: result.rows.map(serialise),
    autocomplete: {},
  };
}
