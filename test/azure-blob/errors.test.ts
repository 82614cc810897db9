/**
 * How the Blob provider maps store failures: authentication, missing container, throttling with `Retry-After`,
 * server errors and network failures. Throttling and server errors are injected by the recording proxy; the rest
 * are real (a wrong key against Azurite, a closed port, a container that does not exist).
 */
import { createServer } from "node:net"
import { afterAll, assert, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { ProviderUnavailableError } from "../../src/LeaseError.ts"
import { type Azurite, azuriteAccountKey, startAzurite } from "../support/azurite.ts"
import { freshContainer, leaseName, provider, proxyTo, request } from "./helpers.ts"

let server: Azurite | undefined

beforeAll(async () => {
  server = await startAzurite()
})

afterAll(async () => {
  await server?.stop()
})

const azurite = (): Azurite => {
  if (server === undefined) throw new Error("Azurite is not running")
  return server
}

/** The failure of `effect`, which must be a `ProviderUnavailableError`. */
const unavailable = <A, E extends { readonly _tag: string }>(
  effect: Effect.Effect<A, E>
): Effect.Effect<ProviderUnavailableError> =>
  Effect.matchEffect(effect, {
    onSuccess: () => Effect.die(new Error("expected a ProviderUnavailableError, the operation succeeded")),
    onFailure: (error) =>
      error instanceof ProviderUnavailableError
        ? Effect.succeed(error)
        : Effect.die(new Error(`expected a ProviderUnavailableError, got ${error._tag}`))
  })

const d15 = Duration.seconds(15)

/** A port nothing listens on: bound, then released. */
const closedPort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const probe = createServer()
      probe.listen(0, "127.0.0.1", () => {
        const address = probe.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        probe.close(() => resolve(port))
      })
    })
)

describe.concurrent("azure-blob error mapping", () => {
  it.live("a wrong account key is a non-retryable 403, on every operation", () =>
    Effect.gen(function* () {
      const wrongKey = azuriteAccountKey.replace(/^.{4}/, "AAAA")
      const p = yield* provider(azurite().connectionString.replace(azuriteAccountKey, wrongKey), {
        createContainerIfNotExists: false
      })
      const name = leaseName("auth")
      const failures = [
        yield* unavailable(p.tryAcquire(request(name, "a"))),
        yield* unavailable(p.renew({ name, leaseId: "00000000-0000-4000-8000-000000000000", duration: d15 })),
        yield* unavailable(p.release({ name, leaseId: "00000000-0000-4000-8000-000000000000" })),
        yield* unavailable(p.inspect(name)),
        yield* unavailable(p.breakLease(name))
      ]
      for (const error of failures) {
        expect(error.isRetryable).toBe(false)
        expect(error.detail).toContain("403")
        expect(error.detail).toContain("access denied")
        // The key never appears in what we report.
        expect(error.message).not.toContain(wrongKey)
      }
      expect(failures.map((e) => e.operation)).toEqual(["acquire", "renew", "release", "inspect", "break"])
    })
  )

  it.live("container creation refused with 403 says what to do, and is tried again next time", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      // A credential that may use blobs but not create containers (a container SAS, a role without container write).
      proxy.inject({ on: "CreateContainer", status: 403, code: "AuthorizationPermissionMismatch" })
      const error = yield* unavailable(p.tryAcquire(request(leaseName("auth"), "a")))
      expect(error.operation).toBe("connect")
      expect(error.isRetryable).toBe(false)
      expect(error.detail).toContain("createContainerIfNotExists: false")
      // The failure was not memoised: the next acquire creates the container.
      const next = yield* p.tryAcquire(request(leaseName("auth"), "a"))
      expect(next._tag).toBe("Acquired")
      expect(proxy.operations().filter((op) => op === "CreateContainer")).toHaveLength(2)
    })
  )

  it.live("a missing container with creation off is a non-retryable error naming it", () =>
    Effect.gen(function* () {
      const containerName = freshContainer()
      const p = yield* provider(azurite().connectionString, { containerName, createContainerIfNotExists: false })
      const name = leaseName("missing")
      for (const error of [yield* unavailable(p.tryAcquire(request(name, "a"))), yield* unavailable(p.inspect(name))]) {
        expect(error.isRetryable).toBe(false)
        expect(error.detail).toContain(`container "${containerName}" does not exist`)
        expect(error.detail).toContain("createContainerIfNotExists")
      }
    })
  )

  it.live("a closed port is a retryable network failure", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const p = yield* provider(azurite().connectionString.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`))
      const name = leaseName("network")
      const errors = [
        yield* unavailable(p.tryAcquire(request(name, "a"))),
        yield* unavailable(p.renew({ name, leaseId: "00000000-0000-4000-8000-000000000000", duration: d15 })),
        yield* unavailable(p.inspect(name))
      ]
      for (const error of errors) {
        expect(error.isRetryable).toBe(true)
        expect(error.detail).toContain("ECONNREFUSED")
      }
    })
  )

  it.live("throttling and server errors are retryable and honour Retry-After", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const name = leaseName("throttle")
      const held = request(name, "a")
      const granted = yield* p.tryAcquire(held)
      assert.strictEqual(granted._tag, "Acquired")

      proxy.inject({ status: 503, code: "ServerBusy", headers: { "retry-after": "7" } })
      const busy = yield* unavailable(p.renew({ name, leaseId: held.leaseId, duration: d15 }))
      expect(busy.isRetryable).toBe(true)
      expect(busy.retryAfter && Duration.toMillis(busy.retryAfter)).toBe(7000)
      expect(busy.detail).toContain("503 ServerBusy")

      proxy.inject({ status: 429, code: "TooManyRequests", headers: { "x-ms-retry-after-ms": "1500" } })
      const throttled = yield* unavailable(p.inspect(name))
      expect(throttled.isRetryable).toBe(true)
      expect(throttled.retryAfter && Duration.toMillis(throttled.retryAfter)).toBe(1500)

      proxy.inject({
        status: 503,
        code: "ServerBusy",
        headers: { date: "Wed, 01 Jan 2031 00:00:00 GMT", "retry-after": "Wed, 01 Jan 2031 00:00:03 GMT" }
      })
      const dated = yield* unavailable(p.release({ name, leaseId: held.leaseId }))
      expect(dated.retryAfter && Duration.toMillis(dated.retryAfter)).toBe(3000)

      proxy.inject({ status: 500, code: "InternalError" })
      const internal = yield* unavailable(p.tryAcquire(request(name, "b")))
      expect(internal.isRetryable).toBe(true)
      expect(internal.retryAfter).toBeUndefined()

      // A 4xx that says nothing about the lease is not retried.
      proxy.inject({ status: 400, code: "InvalidHeaderValue" })
      const invalid = yield* unavailable(p.renew({ name, leaseId: held.leaseId, duration: d15 }))
      expect(invalid.isRetryable).toBe(false)

      // None of the injected failures touched the store: the lease is still held.
      expect((yield* p.inspect(name)).leaseId).toBe(held.leaseId)
    })
  )

  it.live("a renewal answered 409/412 is a LeaseLostError, never a retryable error", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const name = leaseName("lost")
      const held = request(name, "a")
      yield* p.tryAcquire(held)
      for (const [status, code, reason] of [
        [409, "LeaseIsBrokenAndCannotBeRenewed", "broken"],
        [412, "LeaseLost", "expired"],
        // A mismatch is classified by reading the lease: it is still held (by us, in fact) -> stolen.
        [409, "LeaseIdMismatchWithLeaseOperation", "stolen"]
      ] as const) {
        proxy.inject({ status, code })
        const error = yield* Effect.flip(p.renew({ name, leaseId: held.leaseId, duration: d15 }))
        expect(error._tag).toBe("LeaseLostError")
        if (error._tag === "LeaseLostError") {
          expect(error.reason).toBe(reason)
          expect(error.isRetryable).toBe(false)
          expect(error.message).toContain(code)
        }
      }
      // A lease blob deleted under the holder is lost too.
      proxy.inject({ status: 404, code: "BlobNotFound" })
      const deleted = yield* Effect.flip(p.renew({ name, leaseId: held.leaseId, duration: d15 }))
      expect(deleted._tag).toBe("LeaseLostError")
    })
  )

  it.live("a failure while recording the grant gives the lease back and fails the attempt", () =>
    Effect.gen(function* () {
      const proxy = yield* proxyTo(azurite())
      const p = yield* provider(proxy.connectionString)
      const name = leaseName("record")
      const first = request(name, "a")
      yield* p.tryAcquire(first)
      yield* p.release({ name, leaseId: first.leaseId })

      proxy.reset()
      proxy.inject({ on: "SetBlobMetadata", status: 503, code: "ServerBusy" })
      const error = yield* unavailable(p.tryAcquire(request(name, "b")))
      expect(error.isRetryable).toBe(true)
      expect(proxy.operations()).toEqual(["GetBlobProperties", "AcquireLease", "SetBlobMetadata", "ReleaseLease"])
      // Nothing is left held, and the token that was never recorded is not skipped or reused wrongly.
      expect(yield* p.inspect(name)).toEqual({ name, held: false, fencingToken: 1n })
      const next = yield* p.tryAcquire(request(name, "c"))
      expect(next._tag === "Acquired" && next.fencingToken).toBe(2n)

      // Taken away between the acquire and the write (412): a conflict, which the core treats as "held".
      yield* p.breakLease(name)
      proxy.inject({ on: "SetBlobMetadata", status: 412, code: "LeaseIdMismatchWithBlobOperation" })
      const conflict = yield* Effect.flip(p.tryAcquire(request(name, "d")))
      expect(conflict._tag).toBe("LeaseConflictError")
    })
  )
})
