/**
 * Recipes for token credentials, and the factory that turns them into `@azure/identity` objects.
 *
 * Planning (which credentials, in which order, from which options and variables) is separate from
 * construction. The plan is plain data that tests can read; the factory is a `Context.Reference` whose
 * default builds the real `@azure/identity` credentials and which tests replace with fakes, so the whole
 * selection logic runs without an Azure account, a network or the Azure CLI.
 *
 * A developer-tool recipe cannot be written without a `DeveloperToolsPermit`, which only a non-production
 * status yields: that is how "no path reaches a developer credential in production" is enforced by the types.
 *
 * @since 0.1.0
 */
import type { TokenCredential } from "@azure/core-auth"
import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  ChainedTokenCredential,
  ClientCertificateCredential,
  type ClientCertificatePEMCertificate,
  type ClientCertificatePEMCertificatePath,
  ClientSecretCredential,
  ManagedIdentityCredential,
  VisualStudioCodeCredential,
  WorkloadIdentityCredential
} from "@azure/identity"
import { Context, Redacted } from "effect"
import type { DeveloperToolsPermit } from "./AzureEnvironment.ts"

/**
 * Where a recipe's values came from: the options, or the `AZURE_*` environment variables.
 *
 * @since 0.1.0
 */
export type RecipeSource = "options" | "environment"

/**
 * A service principal with a client secret.
 *
 * @since 0.1.0
 */
export interface ClientSecretRecipe {
  readonly _tag: "ClientSecret"
  readonly source: RecipeSource
  readonly tenantId: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly authorityHost?: string | undefined
}

/**
 * A service principal with a certificate, given by path (read by the SDK on each token request, so a rotated
 * file is picked up) or by content.
 *
 * @since 0.1.0
 */
export interface ClientCertificateRecipe {
  readonly _tag: "ClientCertificate"
  readonly source: RecipeSource
  readonly tenantId: string
  readonly clientId: string
  readonly certificate:
    | { readonly _tag: "Path"; readonly path: string }
    | { readonly _tag: "Content"; readonly pem: Redacted.Redacted<string> }
  readonly certificatePassword?: Redacted.Redacted<string> | undefined
  readonly sendCertificateChain: boolean
  readonly authorityHost?: string | undefined
}

/**
 * Workload identity (a federated token file, as on AKS).
 *
 * @since 0.1.0
 */
export interface WorkloadIdentityRecipe {
  readonly _tag: "WorkloadIdentity"
  readonly source: RecipeSource
  readonly tenantId: string
  readonly clientId: string
  readonly tokenFilePath: string
  readonly authorityHost?: string | undefined
}

/**
 * A managed identity: system-assigned, or user-assigned by client id or resource id.
 *
 * @since 0.1.0
 */
export interface ManagedIdentityRecipe {
  readonly _tag: "ManagedIdentity"
  readonly source: RecipeSource
  readonly clientId?: string | undefined
  readonly resourceId?: string | undefined
}

/**
 * A developer tool's signed-in account. Needs a permit, which production never issues.
 *
 * @since 0.1.0
 */
export interface DeveloperToolRecipe {
  readonly _tag: "AzureCli" | "AzureDeveloperCli" | "VisualStudioCode"
  readonly tenantId?: string | undefined
  readonly permit: DeveloperToolsPermit
}

/**
 * One credential to build.
 *
 * @since 0.1.0
 */
export type CredentialRecipe =
  | ClientSecretRecipe
  | ClientCertificateRecipe
  | WorkloadIdentityRecipe
  | ManagedIdentityRecipe
  | DeveloperToolRecipe

/**
 * The developer tools, in the order they are tried.
 *
 * @since 0.1.0
 */
export const developerTools: ReadonlyArray<DeveloperToolRecipe["_tag"]> = [
  "AzureCli",
  "AzureDeveloperCli",
  "VisualStudioCode"
]

/**
 * Whether a recipe builds a developer credential.
 *
 * @since 0.1.0
 */
export const isDeveloperTool = (recipe: CredentialRecipe): recipe is DeveloperToolRecipe =>
  recipe._tag === "AzureCli" || recipe._tag === "AzureDeveloperCli" || recipe._tag === "VisualStudioCode"

/**
 * A one-line description of a recipe, without secrets (tenant and client ids are identifiers, not secrets).
 *
 * @since 0.1.0
 */
export const describe = (recipe: CredentialRecipe): string => {
  switch (recipe._tag) {
    case "ClientSecret":
      return `ClientSecret(${recipe.source}, tenant ${recipe.tenantId}, client ${recipe.clientId})`
    case "ClientCertificate":
      return (
        `ClientCertificate(${recipe.source}, tenant ${recipe.tenantId}, client ${recipe.clientId}, ` +
        `${recipe.certificate._tag === "Path" ? `file ${recipe.certificate.path}` : "inline PEM"})`
      )
    case "WorkloadIdentity":
      return `WorkloadIdentity(${recipe.source}, tenant ${recipe.tenantId}, client ${recipe.clientId})`
    case "ManagedIdentity":
      return recipe.clientId !== undefined
        ? `ManagedIdentity(client ${recipe.clientId})`
        : recipe.resourceId !== undefined
          ? `ManagedIdentity(resource ${recipe.resourceId})`
          : "ManagedIdentity(system-assigned)"
    case "AzureCli":
    case "AzureDeveloperCli":
    case "VisualStudioCode":
      return recipe._tag
  }
}

/**
 * The secret values a recipe holds, so errors raised while using it can be scrubbed of them.
 *
 * @since 0.1.0
 */
export const secretsOf = (recipe: CredentialRecipe): ReadonlyArray<Redacted.Redacted<string>> => {
  switch (recipe._tag) {
    case "ClientSecret":
      return [recipe.clientSecret]
    case "ClientCertificate":
      return [
        ...(recipe.certificate._tag === "Content" ? [recipe.certificate.pem] : []),
        ...(recipe.certificatePassword === undefined ? [] : [recipe.certificatePassword])
      ]
    default:
      return []
  }
}

/**
 * Builds credentials from recipes.
 *
 * @since 0.1.0
 */
export interface CredentialFactoryShape {
  /** Builds one credential. May throw: callers turn that into a typed error. */
  readonly create: (recipe: CredentialRecipe) => TokenCredential
  /** Tries credentials in order, moving on while one reports itself unavailable. */
  readonly chain: (credentials: ReadonlyArray<TokenCredential>) => TokenCredential
}

const authority = (host: string | undefined): { authorityHost?: string } =>
  host === undefined ? {} : { authorityHost: host }

/**
 * The `@azure/identity` configuration for a certificate recipe. The password is passed on: the original
 * library built this object empty and so could not use an encrypted key.
 *
 * @since 0.1.0
 */
export const certificateConfiguration = (
  recipe: ClientCertificateRecipe
): ClientCertificatePEMCertificatePath | ClientCertificatePEMCertificate => {
  const password =
    recipe.certificatePassword === undefined ? {} : { certificatePassword: Redacted.value(recipe.certificatePassword) }
  return recipe.certificate._tag === "Path"
    ? { certificatePath: recipe.certificate.path, ...password }
    : { certificate: Redacted.value(recipe.certificate.pem), ...password }
}

/**
 * The real factory: `@azure/identity` credentials. Note that `DefaultAzureCredential` is deliberately absent:
 * its own fallbacks include developer tools, which would bypass the production guard.
 *
 * @since 0.1.0
 */
export const azureIdentityFactory: CredentialFactoryShape = {
  create: (recipe) => {
    switch (recipe._tag) {
      case "ClientSecret":
        return new ClientSecretCredential(
          recipe.tenantId,
          recipe.clientId,
          Redacted.value(recipe.clientSecret),
          authority(recipe.authorityHost)
        )
      case "ClientCertificate": {
        const configuration = certificateConfiguration(recipe)
        const options = { ...authority(recipe.authorityHost), sendCertificateChain: recipe.sendCertificateChain }
        // Two calls because the constructor's overloads do not accept the union.
        return "certificatePath" in configuration
          ? new ClientCertificateCredential(recipe.tenantId, recipe.clientId, configuration, options)
          : new ClientCertificateCredential(recipe.tenantId, recipe.clientId, configuration, options)
      }
      case "WorkloadIdentity":
        return new WorkloadIdentityCredential({
          tenantId: recipe.tenantId,
          clientId: recipe.clientId,
          tokenFilePath: recipe.tokenFilePath,
          ...authority(recipe.authorityHost)
        })
      case "ManagedIdentity":
        return recipe.clientId !== undefined
          ? new ManagedIdentityCredential({ clientId: recipe.clientId })
          : recipe.resourceId !== undefined
            ? new ManagedIdentityCredential({ resourceId: recipe.resourceId })
            : new ManagedIdentityCredential()
      case "AzureCli":
        return new AzureCliCredential(recipe.tenantId === undefined ? {} : { tenantId: recipe.tenantId })
      case "AzureDeveloperCli":
        return new AzureDeveloperCliCredential(recipe.tenantId === undefined ? {} : { tenantId: recipe.tenantId })
      case "VisualStudioCode":
        return new VisualStudioCodeCredential(recipe.tenantId === undefined ? {} : { tenantId: recipe.tenantId })
    }
  },
  chain: (credentials) => new ChainedTokenCredential(...credentials)
}

/**
 * The factory in use: `@azure/identity` unless replaced (tests provide fakes with `Effect.provideService`).
 *
 * @since 0.1.0
 */
export const CredentialFactory = Context.Reference<CredentialFactoryShape>(
  "distributed-leasing/AzureCredentialFactory",
  {
    defaultValue: () => azureIdentityFactory
  }
)
