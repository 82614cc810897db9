/**
 * A private `redis-server` child process for one test suite (or one fault test).
 *
 * Every suite starts its own server on a free port of 127.0.0.1 so that tests never touch a Redis that happens to
 * run on the machine (the system one on 6379 in particular) and so that fault tests (`SIGSTOP`, kill, restart) only
 * hurt the server they own. A server costs about 10 ms to start.
 *
 * If `redis-server` is not installed, `startRedisServer` throws an `Error` whose message carries the one-line
 * install: a missing binary must fail loudly, never skip.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** The line `.ci/run` uses; shown whenever the binary is missing. */
export const installLine = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server"

export interface RedisServerOptions {
  /** Extra `redis-server` arguments, e.g. `["--appendonly", "yes"]` or `["--cluster-enabled", "yes"]`. */
  readonly args?: ReadonlyArray<string> | undefined
  /** Start the server as a one-node Redis Cluster that owns all 16384 slots. */
  readonly cluster?: boolean | undefined
  /** How long to wait for the ready line. Default 10 s. */
  readonly startTimeoutMs?: number | undefined
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** The data directory (AOF files live here when `--appendonly yes`). Removed by `close()`. */
  readonly dir: string
  /** The pid of the current child (changes after `restart`). */
  readonly pid: () => number | undefined
  /** `SIGSTOP`: the server freezes; open connections stay up but nothing is answered. */
  readonly pause: () => void
  /** `SIGCONT`: the server answers again, including what was queued while it was frozen. */
  readonly resume: () => void
  /** `SIGKILL` and wait until the process is gone. Data without persistence is lost. */
  readonly kill: () => Promise<void>
  /** Start the server again on the same port and data directory (after `kill`, or kills it first). */
  readonly restart: () => Promise<void>
  /** Teardown: `SIGCONT` (in case it is paused), `SIGTERM`, wait for exit, remove the data directory. */
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

const live = new Set<ChildProcess>()
let exitHookInstalled = false

// If a test worker dies, its children must not outlive it (they would hold ports and CPU on a shared machine).
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL")
  })
}

/** A port that was free a moment ago: bind port 0, read it, close. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not read a free port"))))
    })
  })

const missingBinary = (cause: unknown) =>
  new Error(
    `redis-server is not installed (or not on PATH), so the Redis tests cannot run. Install it with:\n  ${installLine}`,
    { cause }
  )

const spawnServer = (port: number, dir: string, options: RedisServerOptions): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      // hz 100 makes expiry and client timeouts react within ~10 ms instead of ~100 ms.
      "--hz",
      "100",
      ...(options.cluster === true
        ? [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(dir, "nodes.conf"),
            "--cluster-announce-ip",
            "127.0.0.1"
          ]
        : []),
      ...(options.args ?? [])
    ]
    let child: ChildProcess
    try {
      child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] })
    } catch (cause) {
      reject(missingBinary(cause))
      return
    }
    let output = ""
    let settled = false
    const timer = setTimeout(() => {
      finish(new Error(`redis-server did not get ready within ${options.startTimeoutMs ?? 10_000} ms:\n${output}`))
      child.kill("SIGKILL")
    }, options.startTimeoutMs ?? 10_000)
    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error === undefined) resolve(child)
      else reject(error)
    }
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      // TCP mode prints "Ready to accept connections"; unix-socket mode prints "...ready to accept connections at".
      if (/ready to accept connections/i.test(output)) finish()
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("error", (error: NodeJS.ErrnoException) =>
      finish(error.code === "ENOENT" ? missingBinary(error) : error)
    )
    child.once("exit", (code, signal) => {
      live.delete(child)
      finish(new Error(`redis-server exited (code ${code}, signal ${signal}) before it was ready:\n${output}`))
    })
    live.add(child)
    installExitHook()
  })

const waitForExit = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
  })

/**
 * Starts a private `redis-server` on a free port. Retries with another port if the chosen one was taken in the
 * meantime (other test workers run concurrently on this machine).
 */
export const startRedisServer = async (options: RedisServerOptions = {}): Promise<RedisServer> => {
  const dir = mkdtempSync(join(tmpdir(), "leasing-redis-"))
  let port = 0
  let child: ChildProcess | undefined
  let lastError: unknown
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePort()
    try {
      child = await spawnServer(port, dir, options)
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("redis-server is not installed")) throw error
      lastError = error
    }
  }
  if (child === undefined) {
    rmSync(dir, { recursive: true, force: true })
    throw lastError instanceof Error ? lastError : new Error(String(lastError))
  }
  let current: ChildProcess = child
  let closed = false

  const kill = async () => {
    const c = current
    if (c.exitCode !== null || c.signalCode !== null) return
    c.kill("SIGCONT") // a stopped process only dies of SIGKILL, but SIGCONT first keeps exit handling prompt
    c.kill("SIGKILL")
    await waitForExit(c)
  }

  const server: RedisServer = {
    host: "127.0.0.1",
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    pid: () => current.pid,
    pause: () => {
      current.kill("SIGSTOP")
    },
    resume: () => {
      current.kill("SIGCONT")
    },
    kill,
    restart: async () => {
      await kill()
      // The port was ours a moment ago; a restart must reuse it so that clients reconnect to the same address.
      let lastRestartError: unknown
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          current = await spawnServer(port, dir, options)
          if (options.cluster === true) await assignAllSlots(port)
          return
        } catch (error) {
          lastRestartError = error
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      throw lastRestartError instanceof Error ? lastRestartError : new Error(String(lastRestartError))
    },
    close: async () => {
      if (closed) return
      closed = true
      const c = current
      if (c.exitCode === null && c.signalCode === null) {
        c.kill("SIGCONT")
        c.kill("SIGTERM")
        const timer = setTimeout(() => c.kill("SIGKILL"), 2_000)
        await waitForExit(c)
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
    [Symbol.asyncDispose]: () => server.close()
  }
  if (options.cluster === true) {
    try {
      await assignAllSlots(port)
    } catch (error) {
      await server.close()
      throw error
    }
  }
  return server
}

/**
 * Sends one command over a raw RESP connection and returns the raw reply text. Used for cluster setup so that the
 * helper depends on nothing but Node.
 */
export const rawCommand = (port: number, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    let reply = ""
    socket.setTimeout(5_000, () => socket.destroy(new Error(`timeout waiting for reply to ${args[0]}`)))
    socket.once("error", reject)
    socket.on("data", (chunk) => {
      reply += chunk.toString()
      if (reply.endsWith("\r\n")) {
        socket.end()
        resolve(reply)
      }
    })
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`)
  })

// A one-node cluster: the node owns every slot, so CROSSSLOT checks are real while setup stays instant.
const assignAllSlots = async (port: number) => {
  const reply = await rawCommand(port, ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
  if (!reply.startsWith("+OK") && !reply.includes("already busy")) {
    throw new Error(`CLUSTER ADDSLOTSRANGE failed: ${reply}`)
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const info = await rawCommand(port, ["CLUSTER", "INFO"])
    if (info.includes("cluster_state:ok")) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error("the one-node cluster did not reach cluster_state:ok")
}
