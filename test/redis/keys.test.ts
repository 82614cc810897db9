/**
 * Key layout (`src/redis/keys.ts`): a lease and its fencing counter share a Redis Cluster slot for every valid
 * name, names and prefixes are validated, and no name can make one lease's key collide with another's fence.
 * (`cluster.test.ts` checks the slots against a real cluster-mode server.)
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { keySlot, makeKeySpace, validateName, validatePrefix } from "../../src/redis/keys.ts"

describe("Redis keys", () => {
  it("layout: prefix{name}, prefix{name}:fence, prefix{name}:broken, release channel per prefix", () => {
    const space = makeKeySpace("lease:")
    expect(space.keys("job")).toEqual({
      lease: "lease:{job}",
      fence: "lease:{job}:fence",
      broken: "lease:{job}:broken"
    })
    expect(space.releaseChannel).toBe("lease:released")
  })

  it("known slots (as computed by Redis: CRC16 of the hash tag mod 16384)", () => {
    expect(keySlot("foo")).toBe(12182)
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"))
    // The examples of the Redis Cluster specification.
    expect(keySlot("foo{}{bar}")).not.toBe(keySlot("bar")) // empty tag: the whole key is hashed
    expect(keySlot("foo{{bar}}zap")).toBe(keySlot("{bar"))
    expect(keySlot("foo{bar}{zap}")).toBe(keySlot("bar"))
    expect(keySlot("123456789")).toBe(0x31c3 % 16384) // the CRC16/XMODEM check value
  })

  it("property: for every valid name and prefix, the lease key, the fence and the tombstone share a slot", () => {
    const validName = fc
      .string({ minLength: 1, maxLength: 64, unit: "grapheme" })
      .filter((n) => validateName(n) === undefined)
    const validPrefix = fc.string({ maxLength: 16 }).filter((p) => validatePrefix(p) === undefined)
    fc.assert(
      fc.property(validPrefix, validName, (prefix, name) => {
        const keys = makeKeySpace(prefix).keys(name)
        const slot = keySlot(keys.lease)
        return slot === keySlot(keys.fence) && slot === keySlot(keys.broken) && slot === keySlot(name)
      }),
      { numRuns: 2_000 }
    )
  })

  it("property: distinct valid names never produce colliding keys", () => {
    const validName = fc.string({ minLength: 1, maxLength: 24 }).filter((n) => validateName(n) === undefined)
    const space = makeKeySpace("lease:")
    fc.assert(
      fc.property(validName, validName, (a, b) => {
        if (a === b) return true
        const ka = space.keys(a)
        const kb = space.keys(b)
        const all = new Set([ka.lease, ka.fence, ka.broken, kb.lease, kb.fence, kb.broken])
        return all.size === 6
      }),
      { numRuns: 2_000 }
    )
  })

  it("names: 1–512 characters, no braces, no control characters; unicode, slashes, spaces are fine", () => {
    for (const ok of ["job", "a/b/c", "Ünïcode 🚀", "with space", "x".repeat(512), "dots.and:colons"]) {
      expect(validateName(ok)).toBeUndefined()
    }
    for (const [bad, hint] of [
      ["", "empty"],
      ["x".repeat(513), "at most 512"],
      ["a{b", '"{"'],
      ["a}b", '"}"'],
      ["tab\t", "U+0009"],
      ["del\u007f", "U+007F"]
    ] as const) {
      const error = validateName(bad)
      expect(error?._tag).toBe("InvalidLeaseOptionsError")
      expect(error?.field).toBe("name")
      expect(error?.message).toContain(hint)
    }
  })

  it("prefixes: no braces (they would move the hash tag), at most 128 characters; empty is allowed", () => {
    expect(validatePrefix("")).toBeUndefined()
    expect(validatePrefix("app:leases:")).toBeUndefined()
    expect(validatePrefix("{app}:")?.field).toBe("keyPrefix")
    expect(validatePrefix("x".repeat(129))?.field).toBe("keyPrefix")
  })
})
