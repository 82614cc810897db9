/**
 * A recording HTTP proxy in front of Azurite, for the Blob provider's tests.
 *
 * It forwards every request unchanged (Shared Key signatures cover the path, not the host, so they stay valid)
 * and records what each one was, so tests can count round trips per operation. It can also answer the next
 * requests itself with a given status and headers, to test how throttling and server errors are mapped.
 */
import { createServer, request as forward, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** One request, named after the Blob REST operation it is. */
export type Operation =
  | "GetBlobProperties"
  | "PutBlob"
  | "SetBlobMetadata"
  | "AcquireLease"
  | "RenewLease"
  | "ReleaseLease"
  | "BreakLease"
  | "ChangeLease"
  | "CreateContainer"
  | "GetContainerProperties"
  | "Other"

export interface InjectedResponse {
  readonly status: number
  readonly code: string
  readonly headers?: Readonly<Record<string, string>>
  /** Answer the next request of this operation only (default: the next request, whatever it is). */
  readonly on?: Operation
}

export interface RecordingProxy {
  /** The blob endpoint through the proxy (account included). */
  readonly blobEndpoint: string
  /** The connection string through the proxy. */
  readonly connectionString: string
  /** The operations forwarded (or answered) since the last `reset`, in order. */
  readonly operations: () => ReadonlyArray<Operation>
  readonly reset: () => void
  /** Answers the next requests (of the given operations) with these responses, in order, instead of forwarding. */
  readonly inject: (...responses: ReadonlyArray<InjectedResponse>) => void
  readonly close: () => Promise<void>
}

const classify = (request: IncomingMessage): Operation => {
  const url = new URL(request.url ?? "/", "http://proxy")
  const comp = url.searchParams.get("comp")
  const restype = url.searchParams.get("restype")
  const method = request.method ?? "GET"
  if (restype === "container" && comp === null) {
    return method === "PUT" ? "CreateContainer" : "GetContainerProperties"
  }
  if (comp === "lease") {
    const action = String(request.headers["x-ms-lease-action"] ?? "")
    const byAction: Record<string, Operation> = {
      acquire: "AcquireLease",
      renew: "RenewLease",
      release: "ReleaseLease",
      break: "BreakLease",
      change: "ChangeLease"
    }
    return byAction[action] ?? "Other"
  }
  if (comp === "metadata" && method === "PUT") return "SetBlobMetadata"
  if (comp === null && method === "HEAD") return "GetBlobProperties"
  if (comp === null && method === "PUT") return "PutBlob"
  return "Other"
}

/** Starts a proxy to `target` (an Azurite blob endpoint such as `http://127.0.0.1:1234/devstoreaccount1`). */
export const startProxy = async (target: {
  readonly blobEndpoint: string
  readonly accountName: string
  readonly accountKey: string
}): Promise<RecordingProxy> => {
  const upstream = new URL(target.blobEndpoint)
  const recorded: Array<Operation> = []
  const injected: Array<InjectedResponse> = []
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const operation = classify(incoming)
    recorded.push(operation)
    const index = injected.findIndex((candidate) => candidate.on === undefined || candidate.on === operation)
    const injection = index === -1 ? undefined : injected.splice(index, 1)[0]
    if (injection !== undefined) {
      incoming.resume()
      const body =
        incoming.method === "HEAD"
          ? undefined
          : `<?xml version="1.0" encoding="utf-8"?><Error><Code>${injection.code}</Code><Message>injected</Message></Error>`
      outgoing.writeHead(injection.status, {
        "x-ms-error-code": injection.code,
        "content-type": "application/xml",
        ...injection.headers
      })
      outgoing.end(body)
      return
    }
    const upstreamRequest = forward(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: upstream.host }
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers)
        response.pipe(outgoing)
      }
    )
    upstreamRequest.on("error", () => {
      outgoing.writeHead(502)
      outgoing.end()
    })
    incoming.pipe(upstreamRequest)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const blobEndpoint = `http://127.0.0.1:${port}${upstream.pathname}`
  return {
    blobEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${target.accountName};AccountKey=${target.accountKey};` +
      `BlobEndpoint=${blobEndpoint};`,
    operations: () => [...recorded],
    reset: () => {
      recorded.length = 0
    },
    inject: (...responses) => {
      injected.push(...responses)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
