import { MemoryLeaseProvider } from "../../src/memory/index.ts"
import { conformanceSuite } from "../conformance/suite.ts"

conformanceSuite("memory", { layer: MemoryLeaseProvider.layer(), clock: "test" })
