/**
 * The one error of the Promise API that the Effect API has no counterpart for: the client was closed.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * The `LeasingClient` was closed (`close()` or `await using`) before or while the call ran. A wait that was in
 * progress was cancelled and left nothing held; leases acquired earlier were released by `close()`.
 *
 * @since 0.1.0
 */
export class LeasingClosedError extends Data.TaggedError("LeasingClosedError")<{
  /** The call that could not complete, e.g. `"acquire"`. */
  readonly operation: string
  readonly message: string
}> {
  readonly isRetryable = false
  constructor(args: { readonly operation: string }) {
    super({ ...args, message: `The leasing client is closed: ${args.operation} cannot run` })
  }
}
