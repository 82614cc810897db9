/**
 * Redis key layout of the provider: the lease key, its fencing counter and the release channel.
 *
 * For a lease named `job` and the default prefix `lease:` the provider uses
 * - `lease:{job}`: a hash holding the grant (lease id, holder, fencing token, grant time, metadata) with the
 *   lease's TTL;
 * - `lease:{job}:fence`: the per-name fencing counter, a plain integer without TTL, so it survives release and
 *   expiry;
 * - `lease:{job}:broken`: after an operator's break, the evicted lease id, until that grant would have expired (so
 *   the evicted holder's next renewal reports `broken` rather than `expired`);
 * - channel `lease:released`: every release (and break) publishes the lease name there.
 *
 * The braces are a Redis Cluster hash tag: only `job` is hashed, so both keys live in the same slot and the
 * scripts, which touch both, work on a cluster. That is only true if the prefix has no braces of its own and the
 * name has none either (a `}` in a name would also let one name's lease key equal another name's fence key), so
 * both are validated here, before anything is sent.
 *
 * @since 0.1.0
 */
import { InvalidLeaseOptionsError } from "../LeaseError.ts"

/**
 * The default key prefix (the original library's default).
 *
 * @since 0.1.0
 */
export const defaultPrefix = "lease:"

/**
 * The longest lease name accepted, in characters. Redis allows far longer keys; long keys cost memory on every
 * command and nobody needs them.
 *
 * @since 0.1.0
 */
export const maxNameLength = 512

/** The longest prefix accepted, in characters. */
export const maxPrefixLength = 128

/**
 * The keys and channel of one lease name.
 *
 * @since 0.1.0
 */
export interface LeaseKeys {
  readonly lease: string
  readonly fence: string
  /** Set by a break to the evicted lease id, for as long as that grant had left: lets its renewal say `broken`. */
  readonly broken: string
}

/**
 * Keys of a prefix: built once per provider.
 *
 * @since 0.1.0
 */
export interface KeySpace {
  readonly prefix: string
  /** The pub/sub channel on which releases are announced (the payload is the lease name). */
  readonly releaseChannel: string
  readonly keys: (name: string) => LeaseKeys
}

// Control characters (C0, DEL, C1) and the braces that would break the hash tag.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const forbidden = /[\u0000-\u001f\u007f-\u009f{}]/

const describe = (c: string): string => {
  if (c === "{" || c === "}") return `"${c}"`
  return `U+${c.codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0")}`
}

/**
 * Checks a key prefix: at most 128 characters, no braces, no control characters. The empty prefix is allowed.
 *
 * @since 0.1.0
 */
export const validatePrefix = (prefix: string): InvalidLeaseOptionsError | undefined => {
  if (prefix.length > maxPrefixLength) {
    return new InvalidLeaseOptionsError({
      provider: "redis",
      field: "keyPrefix",
      detail: `must be at most ${maxPrefixLength} characters, got ${prefix.length}`
    })
  }
  const bad = forbidden.exec(prefix)
  if (bad !== null) {
    return new InvalidLeaseOptionsError({
      provider: "redis",
      field: "keyPrefix",
      detail:
        `must not contain ${describe(bad[0])} (braces would change the Redis Cluster hash tag that keeps a lease ` +
        `and its fencing counter in one slot), got ${JSON.stringify(prefix)}`
    })
  }
  return undefined
}

/**
 * Checks a lease name: 1 to 512 characters, no braces, no control characters.
 *
 * @since 0.1.0
 */
export const validateName = (name: string): InvalidLeaseOptionsError | undefined => {
  if (name.length === 0) {
    return new InvalidLeaseOptionsError({
      leaseName: name,
      provider: "redis",
      field: "name",
      detail: "must not be empty"
    })
  }
  if (name.length > maxNameLength) {
    return new InvalidLeaseOptionsError({
      leaseName: `${name.slice(0, 32)}…`,
      provider: "redis",
      field: "name",
      detail: `must be at most ${maxNameLength} characters, got ${name.length}`
    })
  }
  const bad = forbidden.exec(name)
  if (bad !== null) {
    return new InvalidLeaseOptionsError({
      leaseName: name,
      provider: "redis",
      field: "name",
      detail:
        `must not contain ${describe(bad[0])}: braces would break the Redis Cluster hash tag ` +
        "and control characters are almost always a bug"
    })
  }
  return undefined
}

/**
 * The key space of a (validated) prefix.
 *
 * @since 0.1.0
 */
export const makeKeySpace = (prefix: string): KeySpace => ({
  prefix,
  releaseChannel: `${prefix}released`,
  keys: (name) => {
    const lease = `${prefix}{${name}}`
    return { lease, fence: `${lease}:fence`, broken: `${lease}:broken` }
  }
})

/**
 * The Redis Cluster slot of a key (CRC16/XMODEM of the hash tag, modulo 16384), as the server computes it.
 * Used by tests to show that a lease key and its fence share a slot without needing a cluster.
 *
 * @since 0.1.0
 */
export const keySlot = (key: string): number => {
  const bytes = Buffer.from(key, "utf8")
  let start = 0
  let end = bytes.length
  const open = bytes.indexOf(0x7b) // "{"
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1) // "}"
    // An empty tag "{}" does not count: the whole key is hashed.
    if (close !== -1 && close !== open + 1) {
      start = open + 1
      end = close
    }
  }
  let crc = 0
  for (let i = start; i < end; i++) {
    crc ^= (bytes[i] ?? 0) << 8
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    }
  }
  return crc % 16384
}
