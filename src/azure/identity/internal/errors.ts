/**
 * The one way this module reports bad input.
 *
 * @internal
 */
import { InvalidLeaseOptionsError } from "../../../LeaseError.ts"

/** The `provider` named in this module's errors. */
export const providerName = "azure-identity"

/**
 * An `InvalidLeaseOptionsError` for `field`. `detail` must never contain a secret value: callers describe the
 * problem, never echo the input.
 */
export const invalid = (field: string, detail: string): InvalidLeaseOptionsError =>
  new InvalidLeaseOptionsError({ provider: providerName, field, detail })
