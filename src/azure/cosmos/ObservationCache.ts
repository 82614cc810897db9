/**
 * The last version of each lease document this provider saw, with its ETag and the server time it was seen at.
 *
 * This cache is what makes the steady state one request per operation: a renewal or release writes with
 * `If-Match` on the ETag of our own last write, and an acquire of a name last seen free (or expired) writes
 * straight away, instead of reading first as the original did.
 *
 * The cache never decides anything on its own. Every write it enables is conditional on its ETag, so a stale entry
 * costs one `412 Precondition Failed`, after which the caller reads the document and decides on the fresh version.
 * Entries are ordered by `(fence, rev)`, which every writer increments (and which keeps growing across a
 * re-created document, see `LeaseDocument.ts`), so a slow answer never replaces a newer one. The cache is bounded;
 * the least recently stored names are forgotten first.
 *
 * @since 0.1.0
 */
import type { LeaseDocument } from "./LeaseDocument.ts"
import type { ServerInstant } from "./serverClock.ts"

/**
 * A document version and when (in server time) we saw it.
 *
 * @since 0.1.0
 */
export interface Observation {
  readonly doc: LeaseDocument
  readonly at: ServerInstant
}

/**
 * The cache.
 *
 * @since 0.1.0
 */
export interface ObservationCache {
  readonly get: (name: string) => Observation | undefined
  /** Stores `observation` unless a newer version of the document is already known. */
  readonly put: (name: string, observation: Observation) => void
  /** Forgets `name` (only if its cached ETag is `etag`, when given). */
  readonly forget: (name: string, etag?: string) => void
  readonly size: () => number
}

const newer = (a: LeaseDocument, b: LeaseDocument): boolean =>
  a.fence > b.fence || (a.fence === b.fence && a.rev > b.rev)

/**
 * Makes an empty cache holding at most `capacity` names.
 *
 * @since 0.1.0
 */
export const make = (capacity = 10_000): ObservationCache => {
  const entries = new Map<string, Observation>()
  return {
    get: (name) => entries.get(name),
    put: (name, observation) => {
      const current = entries.get(name)
      if (current !== undefined && newer(current.doc, observation.doc)) return
      // Delete first so the name moves to the end of the insertion order (most recent).
      entries.delete(name)
      entries.set(name, observation)
      if (entries.size > capacity) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
    },
    forget: (name, etag) => {
      if (etag === undefined || entries.get(name)?.doc._etag === etag) entries.delete(name)
    },
    size: () => entries.size
  }
}
