import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { TokenCredential } from "@azure/core-auth"
import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  VisualStudioCodeCredential
} from "@azure/identity"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import * as fc from "fast-check"
import {
  azureIdentityFactory,
  type CredentialFactoryShape,
  type CredentialRecipe,
  DeveloperToolsPermit,
  makeCredential,
  productionStatus
} from "../../src/azure/identity/index.ts"
import { fakeAzure, withAzure } from "./fakes.ts"

const developerTags = new Set(["AzureCli", "AzureDeveloperCli", "VisualStudioCode"])
const hasDeveloperTool = (recipes: ReadonlyArray<CredentialRecipe>) => recipes.some((r) => developerTags.has(r._tag))

describe("production detection", () => {
  const cases: ReadonlyArray<
    readonly [{ nodeEnv?: string; azureEnvironment?: string; option?: string }, boolean, ReadonlyArray<string>]
  > = [
    [{}, false, []],
    [{ nodeEnv: "development" }, false, []],
    [{ nodeEnv: "test" }, false, []],
    [{ nodeEnv: "production" }, true, ["NODE_ENV=production"]],
    [{ nodeEnv: "Production" }, true, ["NODE_ENV=Production"]],
    [{ nodeEnv: "staging" }, true, ["NODE_ENV=staging"]],
    [{ azureEnvironment: "Production" }, true, ["AZURE_ENVIRONMENT=Production"]],
    [{ azureEnvironment: "Staging" }, true, ["AZURE_ENVIRONMENT=Staging"]],
    // Fails closed: a name we do not know as a development name is production.
    [{ azureEnvironment: "prod-westeurope" }, true, ["AZURE_ENVIRONMENT=prod-westeurope"]],
    [{ azureEnvironment: "Development" }, false, []],
    [{ azureEnvironment: "local" }, false, []],
    [{ option: "Production" }, true, ["option environment=Production"]],
    // Signals only add production: a development option does not override NODE_ENV.
    [{ nodeEnv: "production", option: "Development" }, true, ["NODE_ENV=production"]],
    [{ azureEnvironment: "Production", option: "dev" }, true, ["AZURE_ENVIRONMENT=Production"]]
  ]
  for (const [settings, production, signals] of cases) {
    it(`${JSON.stringify(settings)} -> ${production ? "production" : "not production"}`, () => {
      expect(productionStatus(settings)).toEqual({ production, signals })
    })
  }

  it("a permit is issued only outside production, and cannot be faked with a look-alike object", () => {
    expect(DeveloperToolsPermit.issue({ production: true, signals: ["NODE_ENV=production"] })).toBeUndefined()
    expect(DeveloperToolsPermit.is(DeveloperToolsPermit.issue({ production: false, signals: [] }))).toBe(true)
    expect(DeveloperToolsPermit.is({})).toBe(false)
  })
})

describe("production guard: Auto", () => {
  const productionEnvs: ReadonlyArray<Record<string, string>> = [
    { NODE_ENV: "production" },
    { AZURE_ENVIRONMENT: "Production" },
    { NODE_ENV: "development", AZURE_ENVIRONMENT: "Staging" }
  ]
  for (const env of productionEnvs) {
    it.effect(`${JSON.stringify(env)}: no developer tool in the chain`, () => {
      const azure = fakeAzure()
      return Effect.gen(function* () {
        const credential = yield* makeCredential({ mode: "Auto", developerTools: true })
        expect(azure.created.map((r) => r._tag)).toEqual(["ManagedIdentity"])
        expect(credential._tag === "TokenCredential" && credential.description).toBe(
          "Auto: ManagedIdentity(system-assigned)"
        )
      }).pipe(withAzure(env, azure.factory))
    })
  }

  it.effect("the environment option makes it production too", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* makeCredential({ environment: "Production" })
      expect(hasDeveloperTool(azure.created)).toBe(false)
    }).pipe(withAzure({}, azure.factory))
  })

  it.effect("an option saying Development does not bring developer tools back under NODE_ENV=production", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* makeCredential({ environment: "Development" })
      expect(hasDeveloperTool(azure.created)).toBe(false)
    }).pipe(withAzure({ NODE_ENV: "production" }, azure.factory))
  })

  it.effect("outside production the developer tools are there (so the guard above is what removes them)", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      yield* makeCredential()
      expect(azure.created.filter((r) => developerTags.has(r._tag)).map((r) => r._tag)).toEqual([
        "AzureCli",
        "AzureDeveloperCli",
        "VisualStudioCode"
      ])
    }).pipe(withAzure({ NODE_ENV: "development" }, azure.factory))
  })

  it.effect("in production, every credential in the chain can fail and still nothing reaches a developer tool", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const credential = yield* makeCredential()
      if (credential._tag !== "TokenCredential") throw new Error("expected a token credential")
      const failed = yield* Effect.exit(Effect.promise(() => credential.credential.getToken("scope")))
      expect(Exit.isFailure(failed)).toBe(true)
      expect(azure.calls).toEqual(["ManagedIdentity"])
    }).pipe(withAzure({ NODE_ENV: "production" }, azure.factory))
  })
})

describe("production guard: DeveloperTools", () => {
  it.effect("is refused in production with a clear error naming why it is production", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const error = yield* Effect.flip(makeCredential({ mode: "DeveloperTools" }))
      expect(error._tag).toBe("InvalidLeaseOptionsError")
      expect(error.field).toBe("mode")
      expect(error.message).toContain("refused in production (NODE_ENV=production)")
      expect(error.message).toContain("use ManagedIdentity, WorkloadIdentity, ClientSecret or ClientCertificate")
      expect(azure.created).toEqual([])
    }).pipe(withAzure({ NODE_ENV: "production" }, azure.factory))
  })

  it.effect("is refused when the environment option says production", () => {
    const azure = fakeAzure()
    return Effect.gen(function* () {
      const error = yield* Effect.flip(makeCredential({ mode: "development", environment: "Production" }))
      expect(error.message).toContain("option environment=Production")
    }).pipe(withAzure({}, azure.factory))
  })

  it.effect("outside production: Azure CLI, then Azure Developer CLI, then VS Code", () => {
    const azure = fakeAzure((recipe) => (recipe._tag === "VisualStudioCode" ? "token" : "unavailable"))
    return Effect.gen(function* () {
      const credential = yield* makeCredential({ mode: "DeveloperTools" })
      if (credential._tag !== "TokenCredential") throw new Error("expected a token credential")
      const token = yield* Effect.promise(() => credential.credential.getToken("scope"))
      expect(token?.token).toBe("token-from-VisualStudioCode")
      expect(azure.calls).toEqual(["AzureCli", "AzureDeveloperCli", "VisualStudioCode"])
    }).pipe(withAzure({ AZURE_ENVIRONMENT: "Development" }, azure.factory))
  })
})

describe("production guard: the real @azure/identity factory", () => {
  // Wraps the real factory to see the objects it builds; no token is requested, so nothing touches the network.
  const spy = () => {
    const built: Array<TokenCredential> = []
    const factory: CredentialFactoryShape = {
      create: (recipe) => {
        const credential = azureIdentityFactory.create(recipe)
        built.push(credential)
        return credential
      },
      chain: azureIdentityFactory.chain
    }
    return { built, factory }
  }
  const isDeveloperCredential = (c: TokenCredential) =>
    c instanceof AzureCliCredential ||
    c instanceof AzureDeveloperCliCredential ||
    c instanceof VisualStudioCodeCredential ||
    c instanceof DefaultAzureCredential

  it.effect("in production Auto builds a managed identity and no developer or default credential", () => {
    const { built, factory } = spy()
    return Effect.gen(function* () {
      yield* makeCredential()
      expect(built).toHaveLength(1)
      expect(built[0]).toBeInstanceOf(ManagedIdentityCredential)
      expect(built.some(isDeveloperCredential)).toBe(false)
    }).pipe(withAzure({ NODE_ENV: "production" }, factory))
  })

  it.effect("outside production the same call builds the three developer credentials", () => {
    const { built, factory } = spy()
    return Effect.gen(function* () {
      yield* makeCredential()
      expect(built.filter(isDeveloperCredential)).toHaveLength(3)
      expect(built.some((c) => c instanceof DefaultAzureCredential)).toBe(false)
    }).pipe(withAzure({}, factory))
  })

  it.effect("the default factory (none provided) also leaves developer tools out in production", () =>
    Effect.gen(function* () {
      const credential = yield* makeCredential()
      expect(credential._tag === "TokenCredential" && credential.description).toBe(
        "Auto: ManagedIdentity(system-assigned)"
      )
    }).pipe(withAzure({ NODE_ENV: "production" }))
  )

  it("no source file of the module constructs or imports DefaultAzureCredential", () => {
    const dir = join(import.meta.dirname, "../../src/azure/identity")
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"))
    expect(files.length).toBeGreaterThan(5)
    for (const file of files) {
      const source = readFileSync(join(dir, file), "utf8")
      expect(source, file).not.toMatch(
        /import[^;]*\bDefaultAzureCredential\b|new DefaultAzureCredential|getDefaultAzureCredential/
      )
    }
  })
})

describe("production guard: property", () => {
  const tenant = "11111111-1111-1111-1111-111111111111"
  const variable = <K extends string>(key: K, value: string) =>
    fc.option(fc.constant([key, value] as const), { nil: undefined })
  const environment = fc
    .tuple(
      fc.constantFrom<[string, string] | undefined>(
        ["NODE_ENV", "production"],
        ["NODE_ENV", "PRODUCTION"],
        ["NODE_ENV", "staging"],
        ["AZURE_ENVIRONMENT", "Production"],
        ["AZURE_ENVIRONMENT", "anything-unknown"],
        undefined
      ),
      variable("AZURE_TENANT_ID", tenant),
      variable("AZURE_CLIENT_ID", "client"),
      variable("AZURE_CLIENT_SECRET", "secret"),
      variable("AZURE_ENVIRONMENT", "Development"),
      fc.constantFrom("Auto", "auto", "DeveloperTools", "development", "ManagedIdentity"),
      fc.option(fc.constantFrom("Production", "Development", "dev"), { nil: undefined }),
      fc.boolean()
    )
    .map(([signal, ...rest]) => {
      const [t, c, s, azEnv, mode, option, developerTools] = rest
      const env: Record<string, string> = {}
      for (const entry of [azEnv, t, c, s, signal]) if (entry !== undefined) env[entry[0]] = entry[1]
      return { env, mode, option, developerTools }
    })

  it("whatever the mode, variables and options: if production, no developer credential is ever built", async () => {
    await fc.assert(
      fc.asyncProperty(environment, async ({ env, mode, option, developerTools }) => {
        const azure = fakeAzure()
        const input =
          mode === "ManagedIdentity"
            ? { mode }
            : option === undefined
              ? { mode, developerTools }
              : { mode, developerTools, environment: option }
        const exit = await Effect.runPromiseExit(makeCredential(input).pipe(withAzure(env, azure.factory)))
        const status = productionStatus({ nodeEnv: env.NODE_ENV, azureEnvironment: env.AZURE_ENVIRONMENT, option })
        if (status.production) expect(hasDeveloperTool(azure.created)).toBe(false)
        // Never a defect: a refusal is a typed error, and Auto always has a chain without developer tools.
        if (Exit.isFailure(exit)) expect(Cause.hasDies(exit.cause)).toBe(false)
        const halfConfigured =
          env.AZURE_CLIENT_SECRET !== undefined &&
          (env.AZURE_TENANT_ID === undefined || env.AZURE_CLIENT_ID === undefined)
        if (mode !== "DeveloperTools" && mode !== "development" && !halfConfigured) {
          expect(Exit.isSuccess(exit)).toBe(true)
        }
        // And the property is not vacuous: outside production, DeveloperTools mode succeeds with developer tools.
        if (!status.production && (mode === "DeveloperTools" || mode === "development")) {
          expect(Exit.isSuccess(exit)).toBe(true)
          expect(hasDeveloperTool(azure.created)).toBe(true)
        }
      }),
      { numRuns: 200 }
    )
  })
})
