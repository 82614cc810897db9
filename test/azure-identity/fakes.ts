/**
 * Test doubles for `azure-identity`: fake `TokenCredential`s behind a fake `CredentialFactory`, an environment
 * given as a plain record, and capture of log lines and spans.
 *
 * The fake factory keeps the *real* `ChainedTokenCredential`, so chain tests exercise the SDK's own fallback
 * rule (move on while a credential throws `CredentialUnavailableError`).
 */
import type { AccessToken, TokenCredential } from "@azure/core-auth"
import { AuthenticationError, CredentialUnavailableError } from "@azure/identity"
import { ConfigProvider, Effect, Logger, References, Tracer } from "effect"
import {
  azureIdentityFactory,
  CredentialFactory,
  type CredentialFactoryShape,
  type CredentialRecipe
} from "../../src/azure/identity/index.ts"

/** What a fake credential does when asked for a token. */
export type FakeBehaviour = "token" | "unavailable" | "rejected"

/** A fake factory and what happened to it. */
export interface FakeAzure {
  readonly factory: CredentialFactoryShape
  /** Every recipe the factory was asked to build, in order. */
  readonly created: Array<CredentialRecipe>
  /** The `_tag` of every credential whose `getToken` was called, in order. */
  readonly calls: Array<string>
}

/** A fake credential. */
export const fakeCredential = (name: string, behaviour: FakeBehaviour, calls: Array<string> = []): TokenCredential => ({
  getToken: async (): Promise<AccessToken> => {
    calls.push(name)
    switch (behaviour) {
      case "token":
        return { token: `token-from-${name}`, expiresOnTimestamp: 4_102_444_800_000 }
      case "unavailable":
        throw new CredentialUnavailableError(`${name} is not available here`)
      case "rejected":
        throw new AuthenticationError(400, { error: "invalid_client", error_description: `${name} was rejected` })
    }
  }
})

/** A factory whose credentials behave as `behaviour(recipe)` says (default: every one unavailable). */
export const fakeAzure = (behaviour: (recipe: CredentialRecipe) => FakeBehaviour = () => "unavailable"): FakeAzure => {
  const created: Array<CredentialRecipe> = []
  const calls: Array<string> = []
  return {
    created,
    calls,
    factory: {
      create: (recipe) => {
        created.push(recipe)
        return fakeCredential(recipe._tag, behaviour(recipe), calls)
      },
      chain: azureIdentityFactory.chain
    }
  }
}

/** Runs `effect` with `env` as the whole environment and `factory` as the credential factory. */
export const withAzure =
  (env: Record<string, string>, factory?: CredentialFactoryShape) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })), (self) =>
      factory === undefined ? self : Effect.provideService(self, CredentialFactory, factory)
    )

/** Log lines (logfmt, annotations included) and spans recorded while an effect runs. */
export interface Recording {
  readonly lines: Array<string>
  readonly spans: Array<Tracer.NativeSpan>
}

/** Records every log line (at Debug and above) and every span of `effect`. */
export const recording = <A, E, R>(effect: Effect.Effect<A, E, R>, into: Recording): Effect.Effect<A, E, R> => {
  const capture = Logger.make((options) => {
    into.lines.push(Logger.formatLogFmt.log(options))
  })
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      into.spans.push(span)
      return span
    }
  })
  return effect.pipe(
    Effect.provide(Logger.layer([capture])),
    Effect.provideService(References.MinimumLogLevel, "Debug"),
    Effect.provideService(Tracer.Tracer, tracer)
  )
}
