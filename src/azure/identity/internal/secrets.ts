/**
 * Keeping secret values out of text we did not write ourselves.
 *
 * Our own messages never interpolate a secret. But an error raised inside the Azure SDK (or by Node while it
 * handles a certificate) is text we do not control, and it travels into logs and spans. Before such an error
 * leaves this module its message and stack are scrubbed of every secret value the credential was built from.
 *
 * @internal
 */
import { Redacted } from "effect"

/** The secret values a credential was built from. */
export type Secrets = ReadonlyArray<Redacted.Redacted<string>>

const placeholder = "<redacted>"

// A very short "secret" would match ordinary text by accident; such a value protects nothing anyway.
const minimumLength = 4

/** Replaces every occurrence of every secret in `text` with `<redacted>`. */
export const scrubText = (text: string, secrets: Secrets): string => {
  let out = text
  for (const secret of secrets) {
    const value = Redacted.value(secret)
    if (value.length >= minimumLength && out.includes(value)) out = out.split(value).join(placeholder)
  }
  return out
}

/**
 * Scrubs an error in place (so its class, `name` and fields survive: `ChainedTokenCredential` decides by `name`
 * whether to try the next credential) and returns it.
 */
export const scrubError = <E>(error: E, secrets: Secrets): E => {
  if (secrets.length === 0 || !(error instanceof Error)) return error
  try {
    error.message = scrubText(error.message, secrets)
    if (error.stack !== undefined) error.stack = scrubText(error.stack, secrets)
  } catch {
    // A frozen error cannot be scrubbed; it still came from code that never saw the secret as text.
  }
  // AggregateAuthenticationError (from ChainedTokenCredential) keeps one error per credential it tried.
  const nested: unknown = Reflect.get(error, "errors")
  if (Array.isArray(nested)) for (const inner of nested) scrubError(inner, secrets)
  if (error.cause !== undefined) scrubError(error.cause, secrets)
  return error
}
