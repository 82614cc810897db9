/**
 * The shared conformance suite against a private in-memory Cosmos DB server started for this file, in real time
 * with 2 s leases. Each test builds its own provider (and client) from the layer.
 */
import { Layer } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import { conformanceSuite } from "../conformance/suite.ts"
import { options, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

conformanceSuite("azure-cosmos", {
  layer: Layer.suspend(() => CosmosLeaseProvider.layer(options(server(), { containerName: "conformance" }))),
  clock: "live",
  duration: "2 seconds"
})
