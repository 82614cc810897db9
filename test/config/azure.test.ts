/**
 * `LEASING_PROVIDER=azure-blob` and `azure-cosmos`, against Azurite and the in-process Cosmos DB test server: the
 * configured client holds, fences and releases leases in the real store.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createLeasingFromEnv } from "../../src/promise/index.ts"
import { guardUnhandledRejections } from "../promise/helpers.ts"
import { type Azurite, startAzurite } from "../support/azurite.ts"
import { type CosmosTestServer, startCosmosServer } from "../support/cosmosServer.ts"

guardUnhandledRejections()

let azurite: Azurite | undefined
let cosmos: CosmosTestServer | undefined
beforeAll(async () => {
  ;[azurite, cosmos] = await Promise.all([startAzurite(), startCosmosServer()])
})
afterAll(async () => {
  await Promise.all([azurite?.stop(), cosmos?.close()])
})

describe("config-driven Azure providers", () => {
  it("azure-blob from LEASING_AZURE_BLOB_* variables", async () => {
    if (azurite === undefined) throw new Error("Azurite did not start")
    await using leasing = await createLeasingFromEnv({
      env: {
        LEASING_PROVIDER: "azure-blob",
        LEASING_AZURE_BLOB_CONNECTION_STRING: azurite.connectionString,
        LEASING_AZURE_BLOB_CONTAINER: "config-test",
        LEASING_AZURE_BLOB_CREATE_CONTAINER: "true",
        LEASING_HOLDER_ID: "blob-holder"
      },
      logLevel: "None"
    })
    const lease = await leasing.acquire("jobs/blob", { duration: "15 seconds" })
    expect(lease.provider).toContain("blob")
    expect(lease.fencingToken).toBe(1n)
    expect(await leasing.tryAcquire("jobs/blob", { holderId: "other", duration: "15 seconds" })).toBeNull()
    expect(await leasing.inspect("jobs/blob")).toMatchObject({ held: true, fencingToken: 1n })
    await lease.release()
    expect((await leasing.inspect("jobs/blob")).held).toBe(false)
  })

  it("azure-cosmos from LEASING_AZURE_COSMOS_* variables", async () => {
    if (cosmos === undefined) throw new Error("the Cosmos test server did not start")
    await using leasing = await createLeasingFromEnv({
      env: {
        LEASING_PROVIDER: "azure-cosmos",
        LEASING_AZURE_COSMOS_ENDPOINT: cosmos.endpoint,
        LEASING_AZURE_COSMOS_KEY: cosmos.key,
        LEASING_AZURE_COSMOS_ENDPOINT_DISCOVERY: "false",
        LEASING_AZURE_COSMOS_CREATE_IF_MISSING: "true",
        LEASING_HOLDER_ID: "cosmos-holder"
      },
      logLevel: "None"
    })
    const lease = await leasing.acquire("jobs/cosmos", { duration: "5 seconds" })
    expect(lease.provider).toContain("cosmos")
    expect(await leasing.tryAcquire("jobs/cosmos", { holderId: "other" })).toBeNull()
    expect(await leasing.inspect("jobs/cosmos")).toMatchObject({ held: true, holderId: "cosmos-holder" })
    await lease.release()
    const next = await leasing.acquire("jobs/cosmos", { duration: "5 seconds", holderId: "other" })
    // Cosmos tokens are not 1, 2, ... (see docs/providers), only strictly increasing.
    expect(next.fencingToken).toBeGreaterThan(lease.fencingToken)
  })
})
