/**
 * Pages of the audit trail, which lives in two streams (actions and denials): records are merged
 * newest first by stream id, and a cursor says where the previous page ended in both.
 */

/** Which stream a record comes from; at equal ids actions come first. */
export type AuditSource = 'actions' | 'denied'

/** A place in the merged trail: a stream id and its stream. */
export interface Position {
  id: string
  source: AuditSource
}

const RANK: Record<AuditSource, number> = { actions: 1, denied: 0 }

function idParts(id: string): [bigint, bigint] {
  const [ms = '0', seq = '0'] = id.split('-')
  return [BigInt(ms), BigInt(seq)]
}

/** Positive when `a` is newer than `b` in the merged trail (comes first on a page). */
export function compare(a: Position, b: Position): number {
  const [aMs, aSeq] = idParts(a.id)
  const [bMs, bSeq] = idParts(b.id)
  if (aMs !== bMs) return aMs > bMs ? 1 : -1
  if (aSeq !== bSeq) return aSeq > bSeq ? 1 : -1
  return RANK[a.source] - RANK[b.source]
}

/** `<id>` for the actions stream, `<id>-d` for the denials stream. */
export function formatCursor(position: Position): string {
  return position.source === 'denied' ? `${position.id}-d` : position.id
}

/** The inverse of formatCursor (the schema has checked the form). */
export function parseCursor(cursor: string | undefined): Position | undefined {
  if (!cursor) return undefined
  return cursor.endsWith('-d')
    ? { id: cursor.slice(0, -2), source: 'denied' }
    : { id: cursor, source: 'actions' }
}

/**
 * Whether a record of `source` at `id` must come after the cursor: older, or equal id from a
 * lower-ranked stream. As an XREVRANGE end: inclusive `id` or exclusive `(id`.
 */
export function endAfter(cursor: Position | undefined, source: AuditSource): string {
  if (!cursor) return '+'
  return RANK[source] < RANK[cursor.source] ? cursor.id : `(${cursor.id}`
}

/** What one stream gave for a page: matching records, newest first, and how far it was read. */
export interface SourcePage<R> {
  records: Array<{ record: R; position: Position }>
  /** The oldest entry examined when the stream was not read to its end; null when it was. */
  frontier: Position | null
}

/**
 * Merges the pages of both streams into one of at most `limit` records. Records older than the
 * newest frontier wait for the next page (the other stream has not been read that far yet).
 */
export function mergePages<R>(
  limit: number,
  pages: Array<SourcePage<R>>,
): { records: R[]; nextCursor: string | null } {
  const frontiers = pages.flatMap((page) => (page.frontier ? [page.frontier] : []))
  const frontier = frontiers.sort(compare).at(-1)
  const candidates = pages
    .flatMap((page) => page.records)
    .filter((entry) => !frontier || compare(entry.position, frontier) >= 0)
    .sort((a, b) => compare(b.position, a.position))
  const taken = candidates.slice(0, limit)
  let next: Position | undefined
  if (candidates.length > limit) next = taken.at(-1)!.position
  else if (frontier) next = frontier
  return { records: taken.map((entry) => entry.record), nextCursor: next ? formatCursor(next) : null }
}
