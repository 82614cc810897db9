/**
 * Azurite (the Azure Storage emulator), blob service only, in memory, on a free port, for tests.
 *
 * Two ways to start it (see shared/docs/reference/test-backends.md §2 and §4):
 *
 * - `"in-process"` (default, about 0.5 s): Azurite's `BlobServer` through a deep CommonJS require, since the
 *   package has no exports map and no typings. It never starts telemetry.
 * - `"cli"` (about 0.9 s): the `azurite-blob` script as a child process of the *current* Node (the script's
 *   shebang would pick whatever `node` is first on PATH), with `--disableTelemetry` (without it, Azurite takes
 *   minutes to exit) and `--inMemoryPersistence`. Use it when a test must stop or kill the process.
 *
 * Both pass `--skipApiVersionCheck`: the Blob SDK always sends a newer `x-ms-version` than Azurite knows, and
 * Azurite would answer every request with 400 InvalidHeaderValue.
 *
 * Azurite's well-known development account and key are public, documented values, not secrets.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { Effect, type Scope } from "effect"

/** The well-known Azurite account (public, documented by Microsoft). */
export const azuriteAccountName = "devstoreaccount1"
/** The well-known Azurite key (public, documented by Microsoft). */
export const azuriteAccountKey =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

/** A running Azurite blob service. */
export interface Azurite {
  /** `http://127.0.0.1:<port>/devstoreaccount1`: the blob endpoint, account included (path-style URLs). */
  readonly blobEndpoint: string
  readonly accountName: string
  readonly accountKey: string
  readonly connectionString: string
  readonly stop: () => Promise<void>
}

/** How to start Azurite. */
export type AzuriteMode = "in-process" | "cli"

const require = createRequire(import.meta.url)

// The shapes we use from Azurite's untyped CommonJS modules.
interface BlobServerInstance {
  start(): Promise<void>
  close(): Promise<void>
  getHttpServerAddress(): string
}
type BlobServerConstructor = new (configuration: unknown) => BlobServerInstance
type BlobConfigurationConstructor = new (...args: ReadonlyArray<unknown>) => unknown

const loadDefault = <T>(id: string): T => {
  const loaded: { readonly default?: T } = require(id)
  if (typeof loaded.default !== "function") throw new Error(`azurite: ${id} has no default export (version changed?)`)
  return loaded.default
}

const describeServer = (address: string, stop: () => Promise<void>): Azurite => {
  const port = new URL(address).port
  const blobEndpoint = `http://127.0.0.1:${port}/${azuriteAccountName}`
  return {
    blobEndpoint,
    accountName: azuriteAccountName,
    accountKey: azuriteAccountKey,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${azuriteAccountName};` +
      `AccountKey=${azuriteAccountKey};BlobEndpoint=${blobEndpoint};`,
    stop
  }
}

const startInProcess = async (): Promise<Azurite> => {
  const BlobServer = loadDefault<BlobServerConstructor>("azurite/dist/src/blob/BlobServer")
  const BlobConfiguration = loadDefault<BlobConfigurationConstructor>("azurite/dist/src/blob/BlobConfiguration")
  // Positional constructor: host, port (0 = free port), keepAliveTimeout, metadataDBPath, extentDBPath,
  // persistenceArray, enableAccessLog, accessLogStream, enableDebugLog, debugLogPath, loose,
  // skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, isMemoryPersistence.
  const configuration = new BlobConfiguration(
    "127.0.0.1",
    0,
    undefined,
    undefined,
    undefined,
    undefined,
    false,
    undefined,
    false,
    undefined,
    false,
    true,
    "",
    "",
    "",
    undefined,
    false,
    true
  )
  const server = new BlobServer(configuration)
  await server.start()
  return describeServer(server.getHttpServerAddress(), () => server.close())
}

const startCli = (): Promise<Azurite> =>
  new Promise((resolve, reject) => {
    const script = require.resolve("azurite/dist/src/blob/main.js")
    const child: ChildProcess = spawn(
      process.execPath,
      [
        script,
        "--inMemoryPersistence",
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        "0",
        "--silent",
        "--disableTelemetry",
        "--skipApiVersionCheck"
      ],
      { cwd: tmpdir(), stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const stop = () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done()
        child.once("exit", () => done())
        child.kill("SIGTERM")
      })
    const onExit = (code: number | null) =>
      reject(new Error(`azurite-blob exited (${code}) before listening: ${output}`))
    child.once("error", reject)
    child.once("exit", onExit)
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const address = /successfully listens on (http\S+)/.exec(output)?.[1]
      if (address !== undefined) {
        child.off("exit", onExit)
        resolve(describeServer(address, stop))
      }
    })
  })

/** Starts Azurite; call `stop` when done. */
export const startAzurite = (mode: AzuriteMode = "in-process"): Promise<Azurite> =>
  mode === "cli" ? startCli() : startInProcess()

/** Azurite as a scoped resource: stopped when the scope closes. */
export const azurite = (mode: AzuriteMode = "in-process"): Effect.Effect<Azurite, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startAzurite(mode),
      catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
    }),
    (server) => Effect.promise(() => server.stop())
  )
