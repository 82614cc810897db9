/**
 * The shared conformance suite against a real redis-server started for this file (never a system Redis), in real
 * time with 2 s leases. Each test builds its own provider (and connections) from the layer.
 */
import { Layer } from "effect"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { conformanceSuite } from "../conformance/suite.ts"
import { useRedisServer } from "./helpers.ts"

const server = useRedisServer()

conformanceSuite("redis", {
  layer: Layer.suspend(() => RedisLeaseProvider.layer({ url: server().url, keyPrefix: "conformance:" })),
  clock: "live"
})
