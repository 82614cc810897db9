/**
 * Maps what ioredis throws into the library's tagged union, at the provider boundary.
 *
 * The one question a caller needs answered is `isRetryable`: may the very same call succeed later?
 * - Yes for anything about reaching the server: refused or reset connections, timeouts, a closed or not yet
 *   writable connection, `READONLY` (a replica answered during a failover), `LOADING` (the server is loading its
 *   data set after a restart), `BUSY` (another script is running), `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`,
 *   out of memory.
 * - No for anything that will fail the same way every time: `NOAUTH` / `WRONGPASS` (bad or missing credentials),
 *   `NOPERM` (the ACL user may not run the scripts or touch the keys), `WRONGTYPE` (the key exists but is not a
 *   lease of ours: some other program uses the same name), a fencing counter that is not an integer, a script error.
 *
 * The raw error is always kept as `cause`.
 *
 * @since 0.1.0
 */
import { type LeaseOperation, ProviderUnavailableError } from "../LeaseError.ts"

/** The provider name used in errors, logs and metrics. */
export const providerName = "redis"

// Reply-error prefixes (the first word of a Redis error reply) that retrying cannot fix.
const permanentReplies: Record<string, string> = {
  NOAUTH: "the server requires authentication and none (or none valid) was sent",
  WRONGPASS: "the username or password (or Entra ID token) was rejected",
  NOPERM: "the ACL user lacks a permission the provider needs (EVALSHA/EVAL on the lease keys, PUBLISH, SUBSCRIBE)",
  WRONGTYPE: "the key exists but is not a lease written by this library (another program uses the same key)",
  NOSCRIPT: "the script is not cached on the server",
  CROSSSLOT: "the keys of one operation are in different cluster slots (a key prefix with braces?)"
}

// Reply-error prefixes that say "not now".
const transientReplies: Record<string, string> = {
  READONLY: "the node is a read-only replica (a failover may be in progress)",
  LOADING: "the server is loading its data set",
  BUSY: "the server is busy running another script",
  TRYAGAIN: "the cluster asked to try again (slot migration in progress)",
  CLUSTERDOWN: "the cluster is down",
  MASTERDOWN: "the link to the primary is down",
  OOM: "the server is out of memory",
  MOVED: "the slot moved to another node",
  ASK: "the slot is being migrated"
}

// Node socket error codes that mean the server could not be reached (yet).
const transientCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETDOWN"
])

// Messages ioredis itself produces for a connection that is closed, closing, not ready or too slow.
const transientMessages = [
  /command timed out/i,
  /connection is closed/i,
  /stream isn't writeable/i,
  /max retries per request/i,
  /connect etimedout/i,
  /failed to refresh slots cache/i,
  /none of startup nodes is available/i,
  /cluster isn't ready/i
]

/**
 * What we make of a raw error: retryable or not, and a short human explanation.
 *
 * @since 0.1.0
 */
export interface Classification {
  readonly isRetryable: boolean
  readonly detail: string
}

const messageOf = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

const codeOf = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  return typeof cause.code === "string" ? cause.code : undefined
}

const nameOf = (cause: unknown): string | undefined => (cause instanceof Error ? cause.name : undefined)

/**
 * Classifies a raw ioredis / socket error.
 *
 * @since 0.1.0
 */
export const classify = (cause: unknown): Classification => {
  const message = messageOf(cause)
  const firstWord = /^[A-Z]+/.exec(message)?.[0]
  if (firstWord !== undefined) {
    const permanent = permanentReplies[firstWord]
    if (permanent !== undefined) return { isRetryable: false, detail: `${permanent}: ${message}` }
    const transient = transientReplies[firstWord]
    if (transient !== undefined) return { isRetryable: true, detail: `${transient}: ${message}` }
  }
  const code = codeOf(cause)
  if (code !== undefined && transientCodes.has(code)) {
    return { isRetryable: true, detail: `the server could not be reached: ${message}` }
  }
  if (transientMessages.some((re) => re.test(message))) {
    return { isRetryable: true, detail: `the connection is not usable right now: ${message}` }
  }
  const name = nameOf(cause)
  if (name === "MaxRetriesPerRequestError" || name === "ClusterAllFailedError" || name === "AbortError") {
    return { isRetryable: true, detail: `the connection is not usable right now: ${message}` }
  }
  if (/value is not an integer/i.test(message)) {
    return {
      isRetryable: false,
      detail: `the fencing counter key holds something that is not an integer (not a key of ours?): ${message}`
    }
  }
  if (name === "ReplyError") {
    // An error reply we do not know (a script error, an unknown command on an old server...) will repeat.
    return { isRetryable: false, detail: `the server rejected the command: ${message}` }
  }
  // Anything else came from the client or the network, not from a decision of the server: worth another try.
  return { isRetryable: true, detail: message }
}

// Commands whose arguments carry secrets (passwords, Entra ID tokens).
const secretCommands = new Set(["auth", "hello", "acl", "config", "migrate"])

/**
 * ioredis attaches the failed command to its reply errors (`error.command = { name, args }`), so a rejected
 * `HELLO 3 AUTH user <password>` would carry the password (or Entra ID token) into our error's `cause`, and from
 * there into logs and JSON. The arguments of such commands are replaced before the error leaves the provider.
 *
 * @since 0.1.0
 */
export const redactCause = (cause: unknown): unknown => {
  if (typeof cause !== "object" || cause === null || !("command" in cause)) return cause
  const command = cause.command
  if (typeof command !== "object" || command === null || !("name" in command)) return cause
  const name = typeof command.name === "string" ? command.name : ""
  if (secretCommands.has(name.toLowerCase())) cause.command = { name, args: ["<redacted>"] }
  return cause
}

/**
 * Builds the `ProviderUnavailableError` for a raw error.
 *
 * @since 0.1.0
 */
export const toProviderError = (
  cause: unknown,
  context: {
    readonly operation: LeaseOperation
    readonly leaseName?: string | undefined
    readonly leaseId?: string | undefined
  }
): ProviderUnavailableError => {
  const { isRetryable, detail } = classify(cause)
  redactCause(cause)
  return new ProviderUnavailableError({
    provider: providerName,
    operation: context.operation,
    isRetryable,
    leaseName: context.leaseName,
    leaseId: context.leaseId,
    detail,
    cause
  })
}

/**
 * A reply of an unexpected shape: the server answered, but not what our script returns (a different script under
 * the same SHA is not possible, so this is a bug or a proxy that mangles replies). Not retryable.
 *
 * @since 0.1.0
 */
export const unexpectedReply = (
  reply: unknown,
  context: { readonly operation: LeaseOperation; readonly leaseName?: string | undefined }
): ProviderUnavailableError =>
  new ProviderUnavailableError({
    provider: providerName,
    operation: context.operation,
    isRetryable: false,
    leaseName: context.leaseName,
    detail: `unexpected reply from the ${context.operation} script: ${safeJson(reply)}`
  })

const safeJson = (u: unknown): string => {
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}
