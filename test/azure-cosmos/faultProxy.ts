/**
 * A tiny HTTP proxy in front of the test server: it forwards every request, records it, and can answer instead
 * of the server (to simulate the throttling, outages and auth failures the test server never produces) or strip
 * the `Date` header from the server's answers (to exercise the client-clock fallback).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"

/** One request as it reached the proxy. */
export interface Recorded {
  readonly method: string
  readonly path: string
  /** `read`, `create`, `replace`, `patch`, `delete` for item requests; `other` for the rest (account, containers). */
  readonly kind: "read" | "create" | "replace" | "patch" | "delete" | "other"
}

/** An answer made up by the proxy. */
export interface FakeAnswer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: unknown
}

export interface FaultProxy {
  readonly endpoint: string
  readonly requests: Array<Recorded>
  /** Decides per request: answer with a fake, or `undefined` to forward. */
  fault: ((request: Recorded) => FakeAnswer | undefined) | undefined
  /** Remove the `Date` header from forwarded answers. */
  stripDate: boolean
  /** Item requests recorded since the last `reset`, by kind. */
  readonly itemRequests: () => ReadonlyArray<Recorded["kind"]>
  readonly reset: () => void
  readonly close: () => Promise<void>
}

const kindOf = (method: string, path: string): Recorded["kind"] => {
  const item = /\/docs\/[^/]+$/.test(path)
  const items = /\/docs\/?$/.test(path)
  if (item && method === "GET") return "read"
  if (item && method === "PUT") return "replace"
  if (item && method === "PATCH") return "patch"
  if (item && method === "DELETE") return "delete"
  if (items && method === "POST") return "create"
  return "other"
}

/** Starts a proxy on a free port in front of `http://127.0.0.1:<targetPort>`. */
export const startFaultProxy = async (targetPort: number): Promise<FaultProxy> => {
  const proxy: {
    requests: Array<Recorded>
    fault: FaultProxy["fault"]
    stripDate: boolean
  } = { requests: [], fault: undefined, stripDate: false }

  const server: Server = createServer((req, res) => {
    const method = req.method ?? "GET"
    const path = req.url ?? "/"
    const recorded: Recorded = { method, path, kind: kindOf(method, path.split("?")[0] ?? path) }
    proxy.requests.push(recorded)
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const fake = proxy.fault?.(recorded)
      if (fake !== undefined) {
        const body = JSON.stringify(fake.body ?? { code: String(fake.status), message: "injected by the test proxy" })
        res.writeHead(fake.status, {
          "content-type": "application/json",
          "x-ms-request-charge": "0",
          ...fake.headers
        })
        res.end(body)
        return
      }
      const upstream = httpRequest(
        { host: "127.0.0.1", port: targetPort, method, path, headers: req.headers },
        (answer) => {
          const headers: IncomingHttpHeaders = { ...answer.headers }
          if (proxy.stripDate) {
            delete headers.date
            // Node adds its own Date header unless told not to.
            res.sendDate = false
          }
          res.writeHead(answer.statusCode ?? 502, headers)
          answer.pipe(res)
        }
      )
      upstream.on("error", () => {
        res.writeHead(502)
        res.end()
      })
      upstream.end(Buffer.concat(chunks))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const port = (server.address() as AddressInfo).port

  return Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${port}`,
    itemRequests: () => proxy.requests.filter((r) => r.kind !== "other").map((r) => r.kind),
    reset: () => {
      proxy.requests.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  })
}
