/**
 * `distributed-leasing/memory`: the in-memory provider.
 *
 * @since 0.1.0
 */

export type { MemoryLeaseProviderOptions } from "./MemoryLeaseProvider.ts"
export * as MemoryLeaseProvider from "./MemoryLeaseProvider.ts"
