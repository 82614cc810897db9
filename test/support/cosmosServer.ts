/**
 * A private, in-memory Cosmos DB server (`@vercel/cosmosdb-server`) for one test file, on a free port of
 * 127.0.0.1. Starting one takes a few milliseconds once the module is loaded.
 *
 * Plain HTTP by default: the server supports it, and the SDK talks to it once endpoint discovery is off (with
 * discovery on, the SDK would follow the account's advertised `https://` location). `tls: true` starts the HTTPS
 * variant, whose bundled certificate expired in 2021: the client options returned then carry an `https.Agent`
 * that accepts that certificate *for this client only*. Nothing here touches process-wide TLS settings
 * (`NODE_TLS_REJECT_UNAUTHORIZED`, `https.globalAgent`).
 *
 * What the server does and does not do (no TTL expiry, lower-cased predicate filters, no throttling, no auth
 * check) is in `shared/docs/reference/test-backends.md` §3; the provider is built on what it does.
 */
import type { Server } from "node:http"
import { Agent } from "node:https"
import { type AddressInfo, createServer } from "node:net"
import { createHttpServer, createHttpsServer } from "@vercel/cosmosdb-server"
import type { ClientOptions } from "../../src/azure/cosmos/CosmosConnection.ts"

/** The well-known key of the Cosmos DB emulator (public; the test server does not check it anyway). */
export const emulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

export interface CosmosTestServer {
  readonly port: number
  /** `http://127.0.0.1:<port>` (or `https://` with `tls: true`). */
  readonly endpoint: string
  readonly key: string
  /** What a `CosmosClient` needs to talk to this server: discovery off, and the trusting agent under TLS. */
  readonly clientOptions: ClientOptions
  readonly close: () => Promise<void>
}

export interface CosmosServerOptions {
  readonly tls?: boolean | undefined
}

const listen = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve((server.address() as AddressInfo).port)
    })
  })

/**
 * Starts a server on a free port (port 0: the kernel picks one, so concurrent test files never clash).
 */
export const startCosmosServer = async (options: CosmosServerOptions = {}): Promise<CosmosTestServer> => {
  const tls = options.tls === true
  // Keep-alive as the real service does: without it the server closes every connection after one answer, and each
  // request pays a new connection (which shows as latency spikes on a loaded machine).
  const server: Server = tls ? createHttpsServer({ keepAlive: true }) : createHttpServer({ keepAlive: true })
  const port = await listen(server)
  // Trust the expired self-signed certificate for the clients given this agent, and nothing else.
  const agent = tls ? new Agent({ rejectUnauthorized: false, keepAlive: true }) : undefined
  const clientOptions: ClientOptions = {
    connectionPolicy: { enableEndpointDiscovery: false },
    ...(agent === undefined ? {} : { agent })
  }
  return {
    port,
    endpoint: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    key: emulatorKey,
    clientOptions,
    close: () =>
      new Promise<void>((resolve) => {
        agent?.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** A port that was free a moment ago (bind port 0, read it, close): a closed port to fail against. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as AddressInfo).port
      probe.close(() => resolve(port))
    })
  })
