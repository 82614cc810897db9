/**
 * `distributed-leasing/azure-identity`: Azure authentication for the Blob, Cosmos DB and Redis providers.
 *
 * Every authentication mode of the original library, plus connection string, account key and SAS, safe by
 * default in production: no path reaches a developer credential there. See docs/authentication.md.
 *
 * @since 0.1.0
 */

export {
  fromEnvironment as azureAuthOptionsFromEnvironment,
  variableOf as azureAuthVariables
} from "./AzureAuthConfig.ts"
export {
  AccountKeyOptions,
  type AuthMode,
  AuthModes,
  AutoOptions,
  AzureAuthOptions,
  type AzureAuthOptionsInput,
  ClientCertificateOptions,
  ClientSecretOptions,
  ConnectionStringOptions,
  DeveloperToolsOptions,
  decode as decodeAzureAuthOptions,
  type FieldLabel,
  ManagedIdentityOptions,
  parseAuthMode,
  SasOptions,
  Secret,
  WorkloadIdentityOptions
} from "./AzureAuthOptions.ts"
export {
  type AccountKeyForm,
  type AzureCredential,
  type ConnectionStringForm,
  fromTokenCredential,
  getToken,
  requireTokenCredential,
  SafeTokenCredential,
  type SasForm,
  type TokenCredentialForm,
  toConnectionString
} from "./AzureCredential.ts"
export { AzureCredentials, makeCredential, makeCredentialConfig } from "./AzureCredentials.ts"
export {
  type AzureEnvironment,
  type AzureEnvironmentVariables,
  DeveloperToolsPermit,
  type ProductionStatus,
  productionStatus
} from "./AzureEnvironment.ts"
export {
  azureIdentityFactory,
  CredentialFactory,
  type CredentialFactoryShape,
  type CredentialRecipe,
  certificateConfiguration,
  describe as describeRecipe
} from "./CredentialFactory.ts"
export { type CredentialPlan, plan as planCredentials, type TokenModeOptions } from "./CredentialPlan.ts"
