// Compiles a test-only AssemblyScript entry (which imports guest modules directly) into a WebAssembly module,
// in a temp dir so the repo's asconfig.json (the real guest's entry) stays out of it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "./guest.js";

export function compileProbe(entry: string, optimizeLevel = 1): WebAssembly.Module {
  const dir = mkdtempSync(path.join(tmpdir(), "as-probe-"));
  try {
    const wasm = path.join(dir, "probe.wasm");
    writeFileSync(path.join(dir, "asconfig.json"), "{}");
    execFileSync(path.join(repoRoot, "node_modules/.bin/asc"), [
      path.join(repoRoot, entry), "--config", path.join(dir, "asconfig.json"),
      "--runtime", "stub", "--use", "abort=", "--optimizeLevel", String(optimizeLevel), "-o", wasm,
    ], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] });
    return new WebAssembly.Module(readFileSync(wasm));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
