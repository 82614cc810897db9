/**
 * The Redis command reaches the store call's span, through the OpenTelemetry SDK route.
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { expect, it } from "@effect/vitest"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer } from "effect"
import { LeaseManager } from "../../src/index.ts"
import { RedisLeaseProvider } from "../../src/redis/index.ts"
import { useRedisServer } from "./helpers.ts"

const server = useRedisServer()

it.live("lease.provider.* spans carry the Redis command", () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const Tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))
  return Effect.gen(function* () {
    yield* Effect.scoped(LeaseManager.acquire("traced", { duration: "2 seconds" }))
    const spans = exporter.getFinishedSpans()
    const acquire = spans.find((s) => s.name === "lease.provider.acquire")
    const release = spans.find((s) => s.name === "lease.provider.release")
    expect(acquire?.attributes["lease.redis.command"]).toBe("EVALSHA acquire")
    expect(acquire?.attributes["db.system"]).toBe("redis")
    expect(release?.attributes["lease.redis.command"]).toBe("EVALSHA release")
    // No secret: the connection URL never reaches a span.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain("redis://")
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        Tracing,
        LeaseManager.layer.pipe(Layer.provide(Layer.suspend(() => RedisLeaseProvider.layer({ url: server().url }))))
      )
    )
  )
})
