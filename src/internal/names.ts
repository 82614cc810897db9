/**
 * Lease name rules shared by every provider.
 *
 * Names are opaque, case-sensitive strings: unicode, slashes and dots are fine. What is refused is what no
 * store can hold safely or what is almost certainly a bug: empty or blank names, control characters (they
 * break logs and some stores' key syntax) and names longer than 255 characters (the Cosmos DB id limit,
 * the tightest of our stores). Providers may add their own rules on top.
 *
 * @internal
 */
import { Effect } from "effect"
import { InvalidLeaseOptionsError } from "../LeaseError.ts"

/** @internal */
export const maxNameLength = 255

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/

/**
 * Returns why `name` is not a valid lease name, or `undefined` when it is.
 *
 * @internal
 */
export const nameProblem = (name: unknown): string | undefined => {
  if (typeof name !== "string") return `must be a string, got ${name === null ? "null" : typeof name}`
  if (name.length === 0) return "must not be empty"
  if (name.trim().length === 0) return "must not be blank"
  if (name.length > maxNameLength) return `must be at most ${maxNameLength} characters, got ${name.length}`
  if (controlCharacters.test(name)) return "must not contain control characters"
  return undefined
}

/**
 * Fails with `InvalidLeaseOptionsError` (field `name`) when `name` is not a valid lease name.
 *
 * @internal
 */
export const validateName = (name: unknown, provider?: string): Effect.Effect<string, InvalidLeaseOptionsError> => {
  const problem = nameProblem(name)
  return problem === undefined
    ? Effect.succeed(name as string)
    : Effect.fail(
        new InvalidLeaseOptionsError({
          leaseName: typeof name === "string" ? name : undefined,
          provider,
          field: "name",
          detail: `lease name ${problem}`
        })
      )
}
