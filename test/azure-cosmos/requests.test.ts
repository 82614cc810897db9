/**
 * What each operation costs: the requests it sends (counted by a proxy in front of the test server) and the request
 * charge it reports (logged at debug level per request, and put on the current span per operation).
 *
 * Steady state: acquire of a name this provider last saw free, renew and release are one request each; a
 * contender polling a held lease, one read; the first acquire of a name, a read and a create.
 */
import { randomUUID } from "node:crypto"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { assert, describe, expect, it } from "@effect/vitest"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Duration, Effect, Layer, Logger, References } from "effect"
import { CosmosLeaseProvider } from "../../src/azure/cosmos/index.ts"
import { type AcquireRequest, LeaseManager, LeaseProvider } from "../../src/index.ts"
import { type FaultProxy, startFaultProxy } from "./faultProxy.ts"
import { leaseName, options, useCosmosServer } from "./helpers.ts"

const server = useCosmosServer()

const request = (name: string, holderId: string): AcquireRequest => ({
  name,
  holderId,
  leaseId: randomUUID(),
  duration: Duration.seconds(10)
})

const withProxy = Effect.acquireRelease(
  Effect.promise(() => startFaultProxy(server().port)),
  (p) => Effect.promise(() => p.close())
)

/** The item requests `effect` sent, and nothing else (no metadata request hides behind an operation). */
const counted = <A, E, R>(proxy: FaultProxy, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    proxy.reset()
    const value = yield* effect
    expect(proxy.requests.filter((r) => r.kind === "other")).toEqual([])
    return { value, requests: proxy.itemRequests() }
  })

describe("azure-cosmos requests per operation", () => {
  it.live("one request per acquire, renew and release in the steady state", () =>
    Effect.gen(function* () {
      const proxy = yield* withProxy
      const provider = yield* CosmosLeaseProvider.make(
        options(server(), { containerName: "requests", endpoint: proxy.endpoint })
      )
      const contender = yield* CosmosLeaseProvider.make(
        options(server(), { containerName: "requests", endpoint: proxy.endpoint })
      )
      const name = leaseName("steady")

      const first = request(name, "a")
      const created = yield* counted(proxy, provider.tryAcquire(first))
      expect(created.value._tag).toBe("Acquired")
      expect(created.requests).toEqual(["read", "create"])

      const renewed = yield* counted(
        proxy,
        provider.renew({ name, leaseId: first.leaseId, duration: Duration.seconds(10) })
      )
      expect(Duration.toMillis(renewed.value.ttl)).toBe(10_000)
      expect(renewed.requests).toEqual(["replace"])

      const polled = yield* counted(proxy, contender.tryAcquire(request(name, "b")))
      expect(polled.value._tag).toBe("Held")
      expect(polled.requests).toEqual(["read"])

      const released = yield* counted(proxy, provider.release({ name, leaseId: first.leaseId }))
      expect(released.value).toBe(true)
      expect(released.requests).toEqual(["replace"])

      const again = yield* counted(proxy, provider.tryAcquire(request(name, "a")))
      expect(again.value._tag).toBe("Acquired")
      expect(again.requests).toEqual(["replace"])

      const inspected = yield* counted(proxy, contender.inspect(name))
      expect(inspected.value.holderId).toBe("a")
      expect(inspected.requests).toEqual(["read"])

      const broken = yield* counted(proxy, contender.breakLease(name))
      expect(broken.value).toBe(true)
      expect(broken.requests).toEqual(["read", "replace"])

      // A provider that never saw the (now free) document reads it, then takes it: two requests.
      const fresh = yield* CosmosLeaseProvider.make(
        options(server(), { containerName: "requests", endpoint: proxy.endpoint })
      )
      const cold = yield* counted(proxy, fresh.tryAcquire(request(name, "c")))
      expect(cold.value._tag).toBe("Acquired")
      expect(cold.requests).toEqual(["read", "replace"])
    })
  )

  it.live(
    "the request charge of each request is logged at debug level, and each operation's total is on its span",
    () =>
      Effect.gen(function* () {
        const logs: Array<{ readonly message: unknown; readonly annotations: Readonly<Record<string, unknown>> }> = []
        const capture = Logger.make(({ message, fiber, logLevel }) => {
          if (logLevel === "Debug")
            logs.push({ message, annotations: { ...fiber.getRef(References.CurrentLogAnnotations) } })
        })
        const provider = yield* CosmosLeaseProvider.make(options(server(), { containerName: "requests" }))
        const name = leaseName("charge")
        const r = request(name, "a")

        const spanCharge = (effect: Effect.Effect<unknown, unknown>) =>
          Effect.gen(function* () {
            yield* effect
            const span = yield* Effect.currentSpan
            return {
              charge: span.attributes.get("lease.cosmos.request_charge"),
              requests: span.attributes.get("lease.cosmos.requests")
            }
          }).pipe(Effect.withSpan("lease.provider.test"))

        const acquire = yield* spanCharge(provider.tryAcquire(r)).pipe(
          Effect.provide(Logger.layer([capture])),
          Effect.provideService(References.MinimumLogLevel, "Debug")
        )
        // The test server charges 1 RU per request: a read and a create.
        expect(acquire).toEqual({ charge: 2, requests: 2 })
        const renew = yield* spanCharge(provider.renew({ name, leaseId: r.leaseId, duration: Duration.seconds(5) }))
        expect(renew).toEqual({ charge: 1, requests: 1 })

        const requests = logs.filter((l) => l.annotations["lease.cosmos.request"] !== undefined)
        expect(requests.map((l) => l.annotations["lease.cosmos.request"])).toEqual(["read", "create"])
        for (const entry of requests) {
          expect(entry.annotations["lease.cosmos.request_charge"]).toBe(1)
          expect(entry.annotations["lease.name"]).toBe(name)
          expect(entry.annotations["lease.operation"]).toBe("acquire")
          expect(entry.annotations["lease.provider"]).toBe("azure-cosmos")
        }
        assert.deepStrictEqual(
          requests.map((l) => l.annotations["lease.cosmos.status"]),
          ["404", "201"]
        )
      })
  )

  it.live("through the lease manager, the charge lands on the lease.provider.<operation> spans", () =>
    Effect.gen(function* () {
      const exporter = new InMemorySpanExporter()
      const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
      const Tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, tracerProvider)))
      const provider = yield* CosmosLeaseProvider.make(options(server(), { containerName: "requests" }))
      const name = leaseName("spans")
      yield* Effect.gen(function* () {
        const manager = yield* LeaseManager.make({ holderId: "traced" }).pipe(
          Effect.provideService(LeaseProvider, provider)
        )
        const lease = yield* Effect.scoped(
          Effect.gen(function* () {
            const held = yield* manager.acquire(name, { duration: "10 seconds", autoRenew: false })
            yield* held.renew
            return held
          })
        )
        expect(lease.state).toBe("released")
      }).pipe(Effect.provide(Tracing))
      const spans = exporter.getFinishedSpans()
      const charge = (spanName: string) =>
        spans.filter((s) => s.name === spanName).map((s) => s.attributes["lease.cosmos.request_charge"])
      expect(charge("lease.provider.acquire")).toEqual([2])
      expect(charge("lease.provider.renew")).toEqual([1])
      expect(charge("lease.provider.release")).toEqual([1])
    })
  )
})
