/**
 * A full garbage collection on demand, without `--expose-gc` on the command line: the flag is set at run time and
 * `gc` is taken from a fresh context.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

setFlagsFromString("--expose-gc")
const collect: unknown = runInNewContext("gc")

/** Collects twice (finalizers freed by the first pass are collected by the second) and returns `heapUsed`. */
export const settledHeap = (): number => {
  if (typeof collect === "function") {
    collect()
    collect()
  }
  return process.memoryUsage().heapUsed
}

export const canCollect = typeof collect === "function"
