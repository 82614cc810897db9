/**
 * Shared pieces of the Cosmos tests: a private server per test file, provider options pointing at it, and a plain
 * SDK client to look at the stored documents directly.
 */
import { randomUUID } from "node:crypto"
import { type Container, CosmosClient } from "@azure/cosmos"
import { afterAll, beforeAll } from "@effect/vitest"
import { Effect, Redacted, type Scope } from "effect"
import type { CosmosLeaseProviderOptions } from "../../src/azure/cosmos/CosmosLeaseProvider.ts"
import { type CosmosServerOptions, type CosmosTestServer, startCosmosServer } from "../support/cosmosServer.ts"

/** Starts a server before the file's tests and stops it after them. */
export const useCosmosServer = (options: CosmosServerOptions = {}): (() => CosmosTestServer) => {
  let server: CosmosTestServer | undefined
  beforeAll(async () => {
    server = await startCosmosServer(options)
  })
  afterAll(async () => {
    await server?.close()
  })
  return () => {
    if (server === undefined) throw new Error("the Cosmos test server is not started yet")
    return server
  }
}

/** Provider options against `server` (or any endpoint serving the same protocol, such as a proxy in front of it). */
export const options = (
  server: CosmosTestServer,
  overrides: Partial<CosmosLeaseProviderOptions> & { readonly endpoint?: string } = {}
): CosmosLeaseProviderOptions => ({
  endpoint: server.endpoint,
  key: Redacted.make(server.key),
  clientOptions: server.clientOptions,
  databaseName: "distributed-leasing",
  containerName: "leases",
  createIfMissing: true,
  ...overrides
})

/** A fresh lease name. */
export const leaseName = (label: string): string => `test/${label}/${randomUUID().slice(0, 8)}`

/** A plain SDK client on the server's container, disposed with the scope. */
export const rawContainer = (
  server: CosmosTestServer,
  databaseName = "distributed-leasing",
  containerName = "leases"
): Effect.Effect<Container, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new CosmosClient({ endpoint: server.endpoint, key: server.key, ...server.clientOptions })),
      (client) => Effect.sync(() => client.dispose())
    ),
    (client) => client.database(databaseName).container(containerName)
  )

/** The raw stored document of `id` (undefined when absent). */
export const rawDocument = (container: Container, id: string): Effect.Effect<Record<string, unknown> | undefined> =>
  Effect.promise(async () => {
    const response = await container.item(id, id).read<Record<string, unknown>>()
    return response.statusCode === 404 ? undefined : response.resource
  })
