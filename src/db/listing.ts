import { type SelectQueryBuilder, sql } from "kysely";

/** What every list endpoint asks of its store, in domain terms (no wire names). */
export interface ListQuery<Field extends string> {
  /** Every term must match at least one search column (case-insensitive substring). */
  search: string[];
  /** Sort keys in order; unknown fields are dropped by the edge before they get here. */
  ordering: { field: Field; descending: boolean }[];
  offset: number;
  limit: number;
}

export interface Page<Row> {
  total: number;
  rows: Row[];
}

/** Escapes LIKE wildcards so a search for `50%` matches the text `50%`. */
export function likePattern(term: string): string {
  return `%${term.toLowerCase().replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/**
 * Adds search, ordering (with the primary key as the tie-breaker) and the page window to a
 * select. `columns` maps each orderable/searchable domain field to its SQL column.
 * NULL sorts as the largest value on both dialects: PostgreSQL's default (and so authentik's);
 * SQLite would put it first, so the placement is spelled out.
 */
export function applyListQuery<DB, TB extends keyof DB, O, Field extends string>(
  query: SelectQueryBuilder<DB, TB, O>,
  list: ListQuery<Field>,
  columns: { search: readonly string[]; order: Record<Field, string>; primaryKey: string },
): SelectQueryBuilder<DB, TB, O> {
  let q = applySearch(query, list.search, columns.search);
  for (const key of list.ordering) {
    q = q.orderBy(columns.order[key.field] as never, (order) =>
      key.descending ? order.desc().nullsFirst() : order.asc().nullsLast(),
    );
  }
  return q
    .orderBy(columns.primaryKey as never, "asc")
    .offset(list.offset)
    .limit(list.limit);
}

export function applySearch<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  terms: readonly string[],
  searchColumns: readonly string[],
): SelectQueryBuilder<DB, TB, O> {
  let q = query;
  for (const term of terms) {
    const pattern = likePattern(term);
    q = q.where((eb) =>
      eb.or(
        // ESCAPE is explicit: SQLite has no default LIKE escape character, PostgreSQL's is the same.
        searchColumns.map((column) => sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`),
      ),
    );
  }
  return q;
}
