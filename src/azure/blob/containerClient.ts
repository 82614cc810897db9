/**
 * The `ContainerClient` the provider talks through: built from a connection string, from an account URL and an
 * Azure credential, or taken as given.
 *
 * Clients built here make **single attempts** (`retryOptions.maxTries: 1`): the core owns retries, backoff and
 * per-attempt timeouts, and an SDK retrying inside an attempt would only hide a dead store until the attempt
 * times out. A client you pass in keeps its own pipeline; consider the same setting for it.
 *
 * Construction does no I/O; secrets never appear in errors.
 *
 * @internal
 */
import type { TokenCredential } from "@azure/core-auth"
import {
  AnonymousCredential,
  BlobServiceClient,
  type ContainerClient,
  type StoragePipelineOptions,
  StorageSharedKeyCredential
} from "@azure/storage-blob"
import { Effect, Redacted } from "effect"
import { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import { type AzureCredential, fromTokenCredential } from "../identity/AzureCredential.ts"
import { providerName } from "./errors.ts"
import { containerNameProblem } from "./names.ts"

/** How to reach the container. @internal */
export type ContainerSource =
  | {
      readonly _tag: "ConnectionString"
      readonly containerName: string
      readonly connectionString: Redacted.Redacted<string>
    }
  | {
      readonly _tag: "Credential"
      readonly containerName: string
      readonly accountUrl?: string | undefined
      readonly credential: AzureCredential | TokenCredential
    }
  | { readonly _tag: "Client"; readonly client: ContainerClient }

const pipelineOptions: StoragePipelineOptions = {
  retryOptions: { maxTries: 1 },
  userAgentOptions: { userAgentPrefix: "distributed-leasing" }
}

const invalid = (field: string, detail: string) =>
  new InvalidLeaseOptionsError({ provider: providerName, field, detail })

const checkUrl = (field: string, url: string): Effect.Effect<URL, InvalidLeaseOptionsError> => {
  try {
    const parsed = new URL(url)
    if (parsed.protocol === "https:" || parsed.protocol === "http:") return Effect.succeed(parsed)
  } catch {
    // reported below
  }
  // The value is not echoed: its query could carry a SAS.
  return Effect.fail(invalid(field, "must be an http(s) URL such as https://<account>.blob.core.windows.net"))
}

const isAzureCredential = (credential: AzureCredential | TokenCredential): credential is AzureCredential =>
  "_tag" in credential

const serviceClient = (
  source: Extract<ContainerSource, { readonly _tag: "ConnectionString" | "Credential" }>
): Effect.Effect<BlobServiceClient, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    if (source._tag === "ConnectionString") return yield* fromConnectionString(source.connectionString)
    const credential = isAzureCredential(source.credential) ? source.credential : fromTokenCredential(source.credential)
    switch (credential._tag) {
      case "ConnectionString":
        return yield* fromConnectionString(credential.connectionString)
      case "TokenCredential": {
        if (source.accountUrl === undefined) {
          return yield* invalid("accountUrl", "is required with a token credential (the blob endpoint of the account)")
        }
        const url = yield* checkUrl("accountUrl", source.accountUrl)
        return new BlobServiceClient(url.toString(), credential.credential, pipelineOptions)
      }
      case "AccountKey": {
        const endpoint =
          source.accountUrl ?? credential.endpoint ?? `https://${credential.accountName}.blob.core.windows.net`
        const url = yield* checkUrl(source.accountUrl === undefined ? "endpoint" : "accountUrl", endpoint)
        const key = new StorageSharedKeyCredential(credential.accountName, Redacted.value(credential.accountKey))
        return new BlobServiceClient(url.toString(), key, pipelineOptions)
      }
      case "Sas": {
        const endpoint = source.accountUrl ?? credential.endpoint
        if (endpoint === undefined) {
          return yield* invalid("accountUrl", "is required with a SAS token (the blob endpoint of the account)")
        }
        const url = yield* checkUrl(source.accountUrl === undefined ? "endpoint" : "accountUrl", endpoint)
        url.search = Redacted.value(credential.sasToken)
        return new BlobServiceClient(url.toString(), new AnonymousCredential(), pipelineOptions)
      }
    }
  })

const fromConnectionString = (
  connectionString: Redacted.Redacted<string>
): Effect.Effect<BlobServiceClient, InvalidLeaseOptionsError> =>
  Effect.try({
    try: () => BlobServiceClient.fromConnectionString(Redacted.value(connectionString), pipelineOptions),
    // The SDK's message may quote the string; ours never does.
    catch: () =>
      invalid(
        "connectionString",
        "is not a usable storage connection string (it needs AccountName and AccountKey, a SharedAccessSignature, or " +
          "UseDevelopmentStorage=true)"
      )
  })

/**
 * The container client for `source`.
 *
 * @internal
 */
export const containerClient = (source: ContainerSource): Effect.Effect<ContainerClient, InvalidLeaseOptionsError> =>
  Effect.gen(function* () {
    if (source._tag === "Client") return source.client
    const problem = containerNameProblem(source.containerName)
    if (problem !== undefined) return yield* invalid("containerName", problem)
    const service = yield* serviceClient(source)
    return service.getContainerClient(source.containerName)
  })
