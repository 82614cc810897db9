/**
 * Error mapping (`src/redis/errors.ts`): each kind of failure gets the right `isRetryable`. The real-server cases
 * (ECONNREFUSED, WRONGPASS, NOAUTH, NOPERM, READONLY, WRONGTYPE, command timeout) are exercised end to end in
 * `provider.test.ts`, the script tests and `faults.test.ts`; here every class is pinned, including those a test
 * server cannot easily produce (LOADING, BUSY, MASTERDOWN, cluster errors).
 */
import { describe, expect, it } from "@effect/vitest"
import { classify, toProviderError } from "../../src/redis/errors.ts"

/** What ioredis rejects with for an error reply. */
const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" })
const socket = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code })

describe("Redis error classification", () => {
  it.each([
    ["ECONNREFUSED", socket("ECONNREFUSED")],
    ["ECONNRESET", socket("ECONNRESET")],
    ["ETIMEDOUT", socket("ETIMEDOUT")],
    ["EPIPE", socket("EPIPE")],
    ["command timeout", new Error("Command timed out")],
    ["closed connection", new Error("Connection is closed.")],
    ["not writable (offline queue off)", new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    [
      "max retries",
      Object.assign(new Error("Reached the max retries per request limit (which is 0)."), {
        name: "MaxRetriesPerRequestError"
      })
    ],
    ["READONLY", reply("READONLY You can't write against a read only replica.")],
    ["LOADING", reply("LOADING Redis is loading the dataset in memory")],
    ["BUSY", reply("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")],
    ["MASTERDOWN", reply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")],
    ["TRYAGAIN", reply("TRYAGAIN Multiple keys request during rehashing of slot")],
    ["CLUSTERDOWN", reply("CLUSTERDOWN The cluster is down")],
    ["OOM", reply("OOM command not allowed when used memory > 'maxmemory'.")],
    ["unknown non-reply error", new Error("something odd in the client")]
  ])("%s is retryable", (_, error) => {
    expect(classify(error).isRetryable).toBe(true)
  })

  it.each([
    ["NOAUTH", reply("NOAUTH Authentication required.")],
    ["WRONGPASS", reply("WRONGPASS invalid username-password pair or user is disabled.")],
    ["NOPERM", reply("NOPERM this user has no permissions to access one of the keys used as arguments")],
    ["WRONGTYPE", reply("WRONGTYPE Operation against a key holding the wrong kind of value")],
    ["a fence that is not an integer", reply("ERR value is not an integer or out of range script: abc")],
    ["CROSSSLOT", reply("CROSSSLOT Keys in request don't hash to the same slot")],
    [
      "an unknown error reply (a script error)",
      reply("ERR user_script:3: Script attempted to access nonexistent global")
    ]
  ])("%s is not retryable", (_, error) => {
    expect(classify(error).isRetryable).toBe(false)
  })

  it("the mapped error keeps the raw error as cause, with provider, operation, lease name and id", () => {
    const raw = reply("WRONGTYPE Operation against a key holding the wrong kind of value")
    const error = toProviderError(raw, { operation: "renew", leaseName: "job", leaseId: "id-1" })
    expect(error._tag).toBe("ProviderUnavailableError")
    expect(error.provider).toBe("redis")
    expect(error.operation).toBe("renew")
    expect(error.leaseName).toBe("job")
    expect(error.leaseId).toBe("id-1")
    expect(error.cause).toBe(raw)
    expect(error.isRetryable).toBe(false)
    expect(error.message).toContain("not a lease written by this library")
  })
})
