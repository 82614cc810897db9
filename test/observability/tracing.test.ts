/**
 * Spans reach both export routes: the OpenTelemetry SDK (through `@effect/opentelemetry`, in-memory exporter and
 * metric reader) and Effect's own OTLP exporter (`effect/observability`, through a fake HttpClient). No secret
 * reaches a span.
 */
import * as OtelMetrics from "@effect/opentelemetry/OtelMetrics"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import * as Resource from "@effect/opentelemetry/Resource"
import { assert, describe, expect, it } from "@effect/vitest"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { Effect, Exit, Layer, Option, Scope } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { Otlp } from "effect/observability"
import { TestClock } from "effect/testing"
import { LeaseManager } from "../../src/index.ts"
import { MemoryLeaseProvider } from "../../src/memory/index.ts"

const Leasing = LeaseManager.layerWith({ holderId: "worker-1" }).pipe(Layer.provide(MemoryLeaseProvider.layer()))

/** Acquire, one automatic renewal at 40 s, a miss by tryAcquire, a break of another lease, release. */
const scenario = Effect.gen(function* () {
  const manager = yield* LeaseManager
  yield* Effect.scoped(
    Effect.gen(function* () {
      yield* manager.acquire("job", { metadata: { owner: "reports" } })
      yield* TestClock.adjust("40 seconds")
      yield* Effect.scoped(manager.tryAcquire("job"))
    })
  )
  yield* Effect.scoped(manager.acquire("other"))
  yield* manager.breakLease("other")
})

describe("tracing", () => {
  it.effect("lease spans reach an OpenTelemetry SDK exporter with names, attributes, parents and links", () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const Tracing = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))
    return Effect.gen(function* () {
      yield* scenario
      const spans = exporter.getFinishedSpans()
      const named = (name: string) => spans.filter((s) => s.name === name)
      const one = (name: string): ReadableSpan => {
        const found = named(name)[0]
        assert.isDefined(found, `no span ${name} among ${spans.map((s) => s.name).join(", ")}`)
        return found as ReadableSpan
      }
      const acquire = one("lease.acquire")
      expect(acquire.attributes["lease.name"]).toBe("job")
      expect(acquire.attributes["lease.provider"]).toBe("memory")
      expect(acquire.attributes["lease.holder_id"]).toBe("worker-1")
      expect(acquire.attributes["lease.fencing_token"]).toBe("1")
      expect(acquire.attributes["lease.outcome"]).toBe("acquired")

      // The store call is a child of the acquire span.
      const providerAcquire = named("lease.provider.acquire").find(
        (s) => s.parentSpanContext?.spanId === acquire.spanContext().spanId
      )
      assert.isDefined(providerAcquire)

      // The automatic renewal is a root span linked to the acquire span, with its own provider child.
      const renew = one("lease.renew")
      expect(renew.parentSpanContext).toBeUndefined()
      expect(renew.links[0]?.context.spanId).toBe(acquire.spanContext().spanId)
      expect(renew.attributes["lease.renew.automatic"]).toBe(true)
      expect(renew.attributes["lease.outcome"]).toBe("renewed")
      expect(renew.attributes["lease.fencing_token"]).toBe("1")
      const providerRenew = one("lease.provider.renew")
      expect(providerRenew.parentSpanContext?.spanId).toBe(renew.spanContext().spanId)

      const miss = one("lease.try_acquire")
      expect(miss.attributes["lease.outcome"]).toBe("held")

      const release = named("lease.release")
      expect(release.length).toBe(2)
      expect(release[0]?.links[0]?.context.spanId).toBe(acquire.spanContext().spanId)
      expect(release[0]?.attributes["lease.outcome"]).toBe("released")

      const broken = one("lease.break")
      expect(broken.attributes["lease.name"]).toBe("other")
      expect(broken.attributes["lease.outcome"]).toBe("free") // it had been released already
    }).pipe(Effect.provide(Layer.merge(Leasing, Tracing)))
  })

  it.effect("metrics reach an OpenTelemetry MetricReader under their leasing.* names", () => {
    class TestReader extends MetricReader {
      protected onShutdown() {
        return Promise.resolve()
      }
      protected onForceFlush() {
        return Promise.resolve()
      }
    }
    const reader = new TestReader()
    const Metrics = OtelMetrics.layer(() => reader).pipe(Layer.provide(Resource.layer({ serviceName: "leasing" })))
    return Effect.gen(function* () {
      yield* scenario
      const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
      const names = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name))
      for (const name of [
        "leasing.acquisitions",
        "leasing.renewals",
        "leasing.renewal.slack",
        "leasing.leases.held",
        "leasing.hold.duration"
      ]) {
        expect(names).toContain(name)
      }
    }).pipe(Effect.provide(Layer.merge(Leasing, Metrics)))
  })

  it.live("Effect's OTLP exporter posts the lease spans as OTLP/JSON", () =>
    Effect.gen(function* () {
      const posted: Array<{ url: string; body: string }> = []
      const FakeHttp = Layer.succeed(
        HttpClient.HttpClient,
        HttpClient.make((request, url) =>
          Effect.sync(() => {
            const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
            posted.push({ url: url.href, body })
            return HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 }))
          })
        )
      )
      const Exporter = Otlp.layerJson({ baseUrl: "http://collector:4318", resource: { serviceName: "leasing" } }).pipe(
        Layer.provide(FakeHttp)
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.build(Exporter).pipe(Scope.provide(scope))
      const token = yield* Effect.gen(function* () {
        const manager = yield* LeaseManager
        return yield* Effect.scoped(
          Effect.map(manager.tryAcquire("exported", { duration: "5 seconds" }), (lease) =>
            Option.map(lease, (l) => l.fencingToken)
          )
        )
      }).pipe(Effect.provide(Leasing), Effect.provideContext(context))
      expect(Option.getOrThrow(token)).toBe(1n)
      yield* Scope.close(scope, Exit.void) // shutdown flushes pending batches
      const traces = posted.find((p) => p.url === "http://collector:4318/v1/traces")
      assert.isDefined(traces)
      expect(traces?.body).toContain('"name":"lease.try_acquire"')
      expect(traces?.body).toContain('"name":"lease.provider.acquire"')
      expect(traces?.body).toContain('"name":"lease.release"')
      expect(traces?.body).toContain("lease.fencing_token")
    })
  )
})
