/**
 * The shared conformance suite against Azurite (in memory, on a free port, started here).
 *
 * Azure's shortest lease is 15 s and Azurite runs in real time, so the suite's expiry tests wait 15–30 s each. The
 * suite runs its tests concurrently (each on its own lease names); `maxConcurrency` is raised for this file so
 * that all of them overlap instead of five at a time.
 *
 * With 15 s leases the core bounds each store call by 1.5 s, and the first acquire of a name takes four requests.
 * To keep that margin on a loaded CI machine, Azurite runs as its own process (not on this test's event loop) and
 * the container is created before the tests start.
 */
import { afterAll, beforeAll, vi } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { BlobLeaseProvider } from "../../src/azure/blob/index.ts"
import { conformanceSuite } from "../conformance/suite.ts"
import { type Azurite, startAzurite } from "../support/azurite.ts"
import { sdkContainer } from "./helpers.ts"

vi.setConfig({ maxConcurrency: 32 })

let server: Azurite | undefined

const containerName = "conformance"

beforeAll(async () => {
  server = await startAzurite("cli")
  await sdkContainer(server.connectionString, containerName).createIfNotExists()
})

afterAll(async () => {
  await server?.stop()
})

// Built per test (the suite provides it locally), so it reads the server started by beforeAll.
const layer = Layer.unwrap(
  Effect.sync(() => {
    if (server === undefined) throw new Error("Azurite is not running")
    return BlobLeaseProvider.layer({
      containerName,
      connectionString: Redacted.make(server.connectionString),
      createContainerIfNotExists: true
    })
  })
)

// A first acquire is three requests: give each attempt 4 s rather than the default 10% of the lease (1.5 s).
conformanceSuite("azure-blob", {
  layer,
  clock: "live",
  duration: "15 seconds",
  leaseOptions: { attemptTimeout: "4 seconds" }
})
