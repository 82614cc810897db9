/**
 * The fault suite on Azure Blob Storage (Azurite): 8 contenders, each with its own `BlobLeaseProvider`, 15 s
 * leases (Azure's minimum), real time, few cycles. The same assertions as on memory, Redis and Cosmos (see
 * `violations` in harness.ts) under latency, store errors on acquire and renew, and lease theft. Releases are left
 * unfaulted: a failed release leaves a 15 s lease to expire, which would make the run long without testing more.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { BlobLeaseProvider } from "../../src/azure/blob/index.ts"
import type { LeaseProviderShape } from "../../src/index.ts"
import { type Azurite, startAzurite } from "../support/azurite.ts"
import { type Backend, runScenario, type Scenario, summary, violations } from "./harness.ts"
import * as Scenarios from "./scenarios.ts"

let azurite: Azurite | undefined

beforeAll(async () => {
  azurite = await startAzurite("cli")
})

afterAll(async () => {
  await azurite?.stop()
})

const scale: Scenarios.Scale = { lease: 15_000, faultMs: 4_000, healMs: 3_000, minCyclesAfterHeal: 2 }

const blobBackend = (contenders: number) =>
  Effect.gen(function* () {
    const connectionString = azurite?.connectionString
    if (connectionString === undefined) return yield* Effect.die(new Error("Azurite is not running"))
    const connect = () =>
      BlobLeaseProvider.make({
        containerName: "faults",
        connectionString: Redacted.make(connectionString),
        createContainerIfNotExists: true
      }).pipe(Effect.orDie)
    const providers: Array<LeaseProviderShape> = []
    for (let i = 0; i < contenders; i++) providers.push(yield* connect())
    const checker = yield* connect()
    const backend: Backend = {
      name: "azure-blob",
      providerFor: (i) => providers[i] ?? checker,
      checker,
      advance: (ms) => Effect.sleep(Duration.millis(ms))
    }
    return backend
  })

describe("fault suite on Azure Blob Storage (Azurite, 8 contenders, 15 s leases)", () => {
  it.live(
    "latency, errors and theft: no stale write accepted, every loss reported before expiry, progress after",
    () =>
      Effect.gen(function* () {
        const scenario: Scenario = Scenarios.latencyErrorsTheft(scale, { release: false })
        const backend = yield* blobBackend(scenario.contenders)
        const outcome = yield* runScenario(scenario, backend, 1)
        console.log(summary(outcome))
        expect(violations(scenario, outcome)).toEqual([])
        expect(outcome.cycles).toBeGreaterThan(5)
        expect(outcome.faults.Failure ?? 0).toBeGreaterThan(0)
      }).pipe(Effect.scoped),
    60_000
  )
})
