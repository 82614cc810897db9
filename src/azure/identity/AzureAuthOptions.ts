/**
 * How to authenticate to Azure: a value tagged by `mode`, with a `Schema` that validates it.
 *
 * Nine modes: `Auto` (the default), `ManagedIdentity`, `WorkloadIdentity`, `ClientSecret`, `ClientCertificate`,
 * `DeveloperTools`, and, for the services that take them, `ConnectionString`, `AccountKey` and `Sas`.
 *
 * Mode names are matched without regard to case, spaces, `-` or `_` (`"managed-identity"` is `ManagedIdentity`);
 * the original library compared them case-sensitively, so `"auto"` was an error. The original's names
 * `Development` and `FederatedCredential` are accepted as aliases of `DeveloperTools` and `WorkloadIdentity`.
 *
 * Secrets (client secret, certificate content and password, account key, connection string, SAS token) may be
 * given as plain strings or as `Redacted`; once decoded they are always `Redacted`.
 *
 * Decoding with {@link decode} reports the *first* wrong field as an `InvalidLeaseOptionsError` whose `field` names
 * it. Its message describes the problem and never repeats the input, so a secret typed into the wrong field
 * cannot leak through the error.
 *
 * @since 0.1.0
 */
import { Effect, Redacted, Schema, SchemaGetter, SchemaIssue } from "effect"
import type { InvalidLeaseOptionsError } from "../../LeaseError.ts"
import { invalid } from "./internal/errors.ts"

/**
 * Every mode, in canonical spelling.
 *
 * @since 0.1.0
 */
export const AuthModes = [
  "Auto",
  "ManagedIdentity",
  "WorkloadIdentity",
  "ClientSecret",
  "ClientCertificate",
  "DeveloperTools",
  "ConnectionString",
  "AccountKey",
  "Sas"
] as const

/**
 * A mode name in canonical spelling.
 *
 * @since 0.1.0
 */
export type AuthMode = (typeof AuthModes)[number]

const normalizeModeName = (name: string): string =>
  name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]/g, "")

const modesByName: ReadonlyMap<string, AuthMode> = new Map<string, AuthMode>([
  ...AuthModes.map((mode): [string, AuthMode] => [normalizeModeName(mode), mode]),
  // The original library's names, so its configuration keeps working.
  ["development", "DeveloperTools"],
  ["federatedcredential", "WorkloadIdentity"]
])

/**
 * The canonical mode for a name, ignoring case, spaces, `-` and `_`; `undefined` when it names no mode.
 *
 * @since 0.1.0
 */
export const parseAuthMode = (name: string): AuthMode | undefined => modesByName.get(normalizeModeName(name))

const unknownModeDetail = (name: string): string =>
  `unknown mode ${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)}; ` +
  `expected one of ${AuthModes.join(", ")} (case-insensitive)`

// The decoded `mode` is the canonical literal; the encoded one is any spelling `parseAuthMode` accepts.
const modeField = <M extends AuthMode>(mode: M) =>
  Schema.String.pipe(
    Schema.decodeTo(Schema.Literal(mode), {
      decode: SchemaGetter.transformEffect((name: string) =>
        parseAuthMode(name) === mode
          ? Effect.succeed(mode)
          : Effect.fail(new SchemaIssue.InvalidValue({ message: `expected the mode ${mode}` }))
      ),
      encode: SchemaGetter.passthroughSubtype()
    })
  )

// Letters, digits, '-' and '.': the same rule @azure/identity applies (it throws later, and less clearly).
const TenantId = Schema.String.check(
  Schema.isPattern(/^[0-9a-zA-Z.-]+$/, {
    message: "must be a tenant id (a GUID) or a domain name: letters, digits, '-' and '.' only"
  })
)

const NonEmpty = Schema.String.check(Schema.isNonEmpty({ message: "must be a non-empty string" }))

const HttpsUrl = Schema.String.check(
  Schema.makeFilter((s: string) =>
    URL.canParse(s) && new URL(s).protocol === "https:" ? undefined : "must be an https URL"
  )
)

// Storage endpoints may be plain http: that is how Azurite and other emulators listen.
const HttpUrl = Schema.String.check(
  Schema.makeFilter((s: string) =>
    URL.canParse(s) && ["http:", "https:"].includes(new URL(s).protocol) ? undefined : "must be an http(s) URL"
  )
)

/**
 * A secret: a non-empty string, given plainly or already `Redacted`; always `Redacted` once decoded.
 *
 * @since 0.1.0
 */
export const Secret = Schema.Union([Schema.String, Schema.Redacted(Schema.String)]).pipe(
  Schema.decodeTo(Schema.Redacted(Schema.String), {
    decode: SchemaGetter.transformEffect((value: string | Redacted.Redacted<string>) =>
      (typeof value === "string" ? value : Redacted.value(value)).length === 0
        ? Effect.fail(new SchemaIssue.InvalidValue({ message: secretMessage }))
        : Effect.succeed(typeof value === "string" ? Redacted.make(value) : value)
    ),
    encode: SchemaGetter.passthroughSupertype()
  })
)

const secretMessage = "must be a non-empty string or a Redacted string"
// The fields that hold a `Secret`, by mode (in other modes some of these names are forbidden keys instead).
const secretFields: { readonly [M in AuthMode]?: ReadonlyArray<string> } = {
  ClientSecret: ["clientSecret"],
  ClientCertificate: ["certificate", "certificatePassword"],
  ConnectionString: ["connectionString"],
  AccountKey: ["accountKey"],
  Sas: ["sasToken"]
}

// A key that must not be there, with the reason why. It types the field as `never`, so the mistake is also
// caught at compile time by callers who write options in TypeScript.
const forbidden = (reason: string) => Schema.optionalKey(Schema.Never.annotate({ message: reason }))

const bothSecretAndCertificate =
  "a client secret and a certificate were both given; use mode ClientSecret or ClientCertificate, not both"

const managedIdentityFilter = (clientIdKey: string, resourceIdKey: string) =>
  Schema.makeFilter((o: { readonly [key: string]: unknown }) =>
    o[clientIdKey] !== undefined && o[resourceIdKey] !== undefined
      ? { path: [resourceIdKey], issue: `give ${clientIdKey} or ${resourceIdKey}, not both` }
      : undefined
  )

/**
 * `Auto`: environment credentials, then workload identity (when its environment variables are set), then managed
 * identity, then, only outside production, developer tools. See `CredentialPlan` and docs/authentication.md.
 *
 * @since 0.1.0
 */
export const AutoOptions = Schema.Struct({
  mode: modeField("Auto").pipe(Schema.withDecodingDefault(Effect.succeed("Auto"))),
  /** Client id of a user-assigned managed identity. Default: `AZURE_CLIENT_ID`, else system-assigned. */
  managedIdentityClientId: Schema.optionalKey(NonEmpty),
  /** Resource id of a user-assigned managed identity (instead of its client id). */
  managedIdentityResourceId: Schema.optionalKey(NonEmpty),
  /** Tenant for the developer tools. */
  tenantId: Schema.optionalKey(TenantId),
  /** Try developer tools at the end of the chain (never in production). Default `true`. */
  developerTools: Schema.optionalKey(Schema.Boolean),
  /** Declares the environment, like `AZURE_ENVIRONMENT`; anything but a development name means production. */
  environment: Schema.optionalKey(NonEmpty)
}).check(managedIdentityFilter("managedIdentityClientId", "managedIdentityResourceId"))

/**
 * `ManagedIdentity`: system-assigned when neither `clientId` nor `resourceId` is given, else user-assigned.
 *
 * @since 0.1.0
 */
export const ManagedIdentityOptions = Schema.Struct({
  mode: modeField("ManagedIdentity"),
  clientId: Schema.optionalKey(NonEmpty),
  resourceId: Schema.optionalKey(NonEmpty)
}).check(managedIdentityFilter("clientId", "resourceId"))

/**
 * `WorkloadIdentity` (federated credential): each missing value is read from `AZURE_TENANT_ID`,
 * `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_AUTHORITY_HOST`.
 *
 * @since 0.1.0
 */
export const WorkloadIdentityOptions = Schema.Struct({
  mode: modeField("WorkloadIdentity"),
  tenantId: Schema.optionalKey(TenantId),
  clientId: Schema.optionalKey(NonEmpty),
  tokenFilePath: Schema.optionalKey(NonEmpty),
  authorityHost: Schema.optionalKey(HttpsUrl)
})

/**
 * `ClientSecret`: a service principal with a client secret.
 *
 * @since 0.1.0
 */
export const ClientSecretOptions = Schema.Struct({
  mode: modeField("ClientSecret"),
  tenantId: TenantId,
  clientId: NonEmpty,
  clientSecret: Secret,
  authorityHost: Schema.optionalKey(HttpsUrl),
  certificatePath: forbidden(bothSecretAndCertificate),
  certificate: forbidden(bothSecretAndCertificate),
  certificatePassword: forbidden("a certificate password only applies to mode ClientCertificate")
})

/**
 * `ClientCertificate`: a service principal with a PEM certificate (certificate and private key), given as a file
 * path or as content, with the password of an encrypted private key.
 *
 * @since 0.1.0
 */
export const ClientCertificateOptions = Schema.Struct({
  mode: modeField("ClientCertificate"),
  tenantId: TenantId,
  clientId: NonEmpty,
  /** Path to a PEM file holding the certificate and its private key. Read again by the SDK on each token request. */
  certificatePath: Schema.optionalKey(NonEmpty),
  /** The PEM content itself, instead of `certificatePath`. */
  certificate: Schema.optionalKey(Secret),
  /** Password of an encrypted private key. */
  certificatePassword: Schema.optionalKey(Secret),
  /** Send the certificate chain (x5c), for subject name / issuer authentication. Default `false`. */
  sendCertificateChain: Schema.optionalKey(Schema.Boolean),
  authorityHost: Schema.optionalKey(HttpsUrl),
  clientSecret: forbidden(bothSecretAndCertificate)
}).check(
  Schema.makeFilter((o: { readonly certificatePath?: string; readonly certificate?: unknown }) => {
    if (o.certificatePath !== undefined && o.certificate !== undefined) {
      return { path: ["certificate"], issue: "give certificatePath or certificate, not both" }
    }
    if (o.certificatePath === undefined && o.certificate === undefined) {
      return { path: ["certificatePath"], issue: "a certificate is required: give certificatePath or certificate" }
    }
    return undefined
  })
)

/**
 * `DeveloperTools`: Azure CLI, then Azure Developer CLI, then VS Code. Refused in production.
 *
 * @since 0.1.0
 */
export const DeveloperToolsOptions = Schema.Struct({
  mode: modeField("DeveloperTools"),
  tenantId: Schema.optionalKey(TenantId),
  environment: Schema.optionalKey(NonEmpty)
})

/**
 * `ConnectionString`: a storage connection string (Blob).
 *
 * @since 0.1.0
 */
export const ConnectionStringOptions = Schema.Struct({
  mode: modeField("ConnectionString"),
  connectionString: Secret
})

/**
 * `AccountKey`: an account name and shared key (Blob shared key, Cosmos DB key).
 *
 * @since 0.1.0
 */
export const AccountKeyOptions = Schema.Struct({
  mode: modeField("AccountKey"),
  accountName: NonEmpty,
  accountKey: Secret,
  /** The service endpoint, when it is not the account's default (an emulator, a sovereign cloud). */
  endpoint: Schema.optionalKey(HttpUrl)
})

/**
 * `Sas`: a shared access signature token (Blob).
 *
 * @since 0.1.0
 */
export const SasOptions = Schema.Struct({
  mode: modeField("Sas"),
  sasToken: Secret,
  endpoint: Schema.optionalKey(HttpUrl)
})

const schemasByMode = {
  Auto: AutoOptions,
  ManagedIdentity: ManagedIdentityOptions,
  WorkloadIdentity: WorkloadIdentityOptions,
  ClientSecret: ClientSecretOptions,
  ClientCertificate: ClientCertificateOptions,
  DeveloperTools: DeveloperToolsOptions,
  ConnectionString: ConnectionStringOptions,
  AccountKey: AccountKeyOptions,
  Sas: SasOptions
} as const

/**
 * The schema of every mode. Decoding it directly works, but {@link decode} gives better errors: it picks the
 * mode first, so a mistake is reported against the field that is wrong rather than as "no mode matched".
 *
 * @since 0.1.0
 */
export const AzureAuthOptions = Schema.Union([
  AutoOptions,
  ManagedIdentityOptions,
  WorkloadIdentityOptions,
  ClientSecretOptions,
  ClientCertificateOptions,
  DeveloperToolsOptions,
  ConnectionStringOptions,
  AccountKeyOptions,
  SasOptions
])

/**
 * Validated options: `mode` is canonical and every secret is `Redacted`.
 *
 * @since 0.1.0
 */
export type AzureAuthOptions = typeof AzureAuthOptions.Type

/**
 * What a caller may pass: any spelling of a mode, secrets as strings or `Redacted`. A validated
 * `AzureAuthOptions` is also a valid input.
 *
 * @since 0.1.0
 */
export type AzureAuthOptionsInput = typeof AzureAuthOptions.Encoded

/** @since 0.1.0 */
export type AutoOptions = typeof AutoOptions.Type
/** @since 0.1.0 */
export type ManagedIdentityOptions = typeof ManagedIdentityOptions.Type
/** @since 0.1.0 */
export type WorkloadIdentityOptions = typeof WorkloadIdentityOptions.Type
/** @since 0.1.0 */
export type ClientSecretOptions = typeof ClientSecretOptions.Type
/** @since 0.1.0 */
export type ClientCertificateOptions = typeof ClientCertificateOptions.Type
/** @since 0.1.0 */
export type DeveloperToolsOptions = typeof DeveloperToolsOptions.Type
/** @since 0.1.0 */
export type ConnectionStringOptions = typeof ConnectionStringOptions.Type
/** @since 0.1.0 */
export type AccountKeyOptions = typeof AccountKeyOptions.Type
/** @since 0.1.0 */
export type SasOptions = typeof SasOptions.Type

/**
 * Renames a field in error reports, for example `tenantId` to `AZURE_TENANT_ID` when the options were read from
 * environment variables, so the error names what the operator must fix.
 *
 * @since 0.1.0
 */
export type FieldLabel = (field: string) => string

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

// Paths and messages only: input values are not reported (`reportInput` is off), so no secret can appear.
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) => (issue._tag === "MissingKey" ? "is required" : SchemaIssue.defaultLeafHook(issue))
})

/**
 * Validates options: picks the mode (absent means `Auto`), then checks that mode's fields.
 *
 * Fails with an `InvalidLeaseOptionsError` naming the first wrong field (`"mode"`, `"tenantId"`,
 * `"certificatePath"`, ...), relabelled by `fieldLabel` when given.
 *
 * @since 0.1.0
 */
export const decode = (
  input: unknown,
  fieldLabel: FieldLabel = (field) => field
): Effect.Effect<AzureAuthOptions, InvalidLeaseOptionsError> =>
  Effect.suspend(() => {
    const record = input === undefined ? {} : input
    if (!isRecord(record)) {
      return Effect.fail(invalid(fieldLabel("mode"), "options must be an object with a mode"))
    }
    const name = record.mode ?? "Auto"
    if (typeof name !== "string") return Effect.fail(invalid(fieldLabel("mode"), "the mode must be a string"))
    const mode = parseAuthMode(name)
    if (mode === undefined) return Effect.fail(invalid(fieldLabel("mode"), unknownModeDetail(name)))
    const schema: Schema.Codec<AzureAuthOptions, unknown> = schemasByMode[mode]
    return Schema.decodeUnknownEffect(schema)(record, { errors: "first" }).pipe(
      Effect.mapError((error) => {
        const [first] = formatIssues(error.issue).issues
        // Every option is a top-level field; deeper segments are schema internals (the inside of a Redacted).
        const field = first?.path?.[0] === undefined ? "mode" : String(first.path[0])
        // A secret's schema is a union; its own messages speak of union members, not of what the caller must do.
        const message = secretFields[mode]?.includes(field) ? secretMessage : (first?.message ?? "is invalid")
        return invalid(fieldLabel(field), `${message} (mode ${mode})`)
      })
    )
  })
