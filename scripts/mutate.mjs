#!/usr/bin/env node
// npm run mutate [-- ID…] [--check] [--no-baseline] [--keep]: the mutation campaign over the security-relevant code.
//
// Every mutant of test/mutants.json is a realistic mistake — a check removed, a bound moved by one, a wipe left
// out, a verdict mapped to the wrong code — written as an exact snippet of source text (which must occur exactly
// once in its file) and its replacement, so the list survives edits elsewhere in the file. Each mutant is applied
// to a scratch copy of the tree (never the checkout), the parts it touches are rebuilt, and ONLY the tests named
// for it are run. A mutant is "killed" when one of them fails; "survived" when they all pass (the code was wrong
// and no test noticed: a test is missing); "did-not-apply" when its snippet is gone or not unique (repair the
// entry); "build-failed" when the mutated tree does not build (rewrite the mutant). Exit status 0 only when every
// mutant was killed. Not part of npm test: it rebuilds and reruns tests once per mutant (minutes, not seconds).
//
// Before the mutants, each distinct test selection runs once on the unmutated copy and must pass with at least
// one test (else a "kill" would prove nothing); --no-baseline skips that.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const baseline = !argv.includes("--no-baseline");
const keep = argv.includes("--keep");
const only = argv.filter((a) => !a.startsWith("--"));
const TEST_TIMEOUT_MS = 240_000; // a mutant that makes a test hang (an endless loop in the guest) counts as killed

const all = JSON.parse(readFileSync(path.join(root, "test/mutants.json"), "utf8")).mutants;
const mutants = only.length ? all.filter((m) => only.includes(m.id)) : all;
if (only.length && mutants.length !== only.length) {
  console.error(`mutate: unknown mutant id(s): ${only.filter((id) => !all.some((m) => m.id === id)).join(", ")}`);
  process.exit(2);
}
const ids = new Set();
for (const m of all) {
  for (const k of ["id", "file", "find", "replace", "tests", "why"])
    if (m[k] === undefined) throw new Error(`mutants.json: mutant ${m.id ?? "?"} has no "${k}"; every entry needs id, file, find, replace, tests, why`);
  if (ids.has(m.id)) throw new Error(`mutants.json: duplicate id ${m.id}`);
  ids.add(m.id);
}

// --check: only say whether every snippet still applies (seconds; run it after merging or editing checked code).
if (argv.includes("--check")) {
  let bad = 0;
  for (const m of mutants) {
    const file = path.join(root, m.file);
    const n = existsSync(file) ? readFileSync(file, "utf8").split(m.find).length - 1 : 0;
    if (n !== 1) {
      bad++;
      console.log(`mutate: ${m.id}: did-not-apply (the snippet occurs ${n} times in ${m.file}; must be exactly once)`);
    }
  }
  console.log(`mutate: ${mutants.length - bad} of ${mutants.length} mutants apply`);
  process.exit(bad ? 1 : 0);
}

// ---- the scratch copy --------------------------------------------------------------------------------------
// <tmp>/repo is the working tree as it is now (tracked and new files, uncommitted edits included) plus build/;
// <tmp>/shared points at ../shared, which the tests read fixtures from; node_modules is shared read-only.
const tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-mutate-"));
const scratch = path.join(tmp, "repo");
mkdirSync(scratch);
const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" })
  .split("\0").filter((f) => f && existsSync(path.join(root, f)) && f !== "node_modules");
for (const f of files) {
  mkdirSync(path.dirname(path.join(scratch, f)), { recursive: true });
  cpSync(path.join(root, f), path.join(scratch, f));
}
if (!existsSync(path.join(root, "build/pam_mapi.so"))) {
  console.error("mutate: build/ is not built; run npm run build first");
  process.exit(2);
}
cpSync(path.join(root, "build"), path.join(scratch, "build"), { recursive: true });
symlinkSync(realpathSync(path.join(root, "node_modules")), path.join(scratch, "node_modules"));
if (existsSync(path.join(root, "../shared"))) symlinkSync(realpathSync(path.join(root, "../shared")), path.join(tmp, "shared"));
const cleanup = () => { if (!keep) rmSync(tmp, { recursive: true, force: true }); };
process.on("exit", cleanup);

// A compiler wrapper that reuses an earlier output when the command line and every input (and the headers) are
// the same: a mutant of one .c file rebuilds that file and the link, not the wasm2c output of the whole guest.
const cacheDir = path.join(tmp, "cc-cache");
mkdirSync(cacheDir);
const ccWrapper = path.join(tmp, "cc");
writeFileSync(ccWrapper, `#!/usr/bin/env node
const { spawnSync } = require("node:child_process");
const { createHash } = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
const h = createHash("sha256").update(JSON.stringify(args));
const headers = [];
for (const a of args) if (a.startsWith("-I") && fs.existsSync(a.slice(2))) for (const f of fs.readdirSync(a.slice(2))) if (f.endsWith(".h")) headers.push(path.join(a.slice(2), f));
for (const f of [...args, ...headers.sort()]) if (/\\.(c|h|o|a)$/.test(f) && fs.existsSync(f) && fs.statSync(f).isFile()) h.update(f).update(fs.readFileSync(f));
const out = args[args.indexOf("-o") + 1];
const cached = path.join(${JSON.stringify(cacheDir)}, h.digest("hex"));
if (args.includes("-o") && fs.existsSync(cached)) { fs.copyFileSync(cached, out); fs.chmodSync(out, fs.statSync(cached).mode); process.exit(0); }
const r = spawnSync(process.env.MUTATE_REAL_CC || "gcc", args, { stdio: "inherit" });
if (r.status === 0 && args.includes("-o")) fs.copyFileSync(out, cached);
process.exit(r.status ?? 1);
`);
chmodSync(ccWrapper, 0o755);

const buildEnv = { ...process.env, CC: ccWrapper };
function buildStep(what) {
  const cmd = what === "guest" ? [process.execPath, ["scripts/build-guest.mjs"]] : ["bash", ["native/build.sh"]];
  const r = spawnSync(cmd[0], cmd[1], { cwd: scratch, env: buildEnv, encoding: "utf8", maxBuffer: 64 << 20 });
  return { ok: r.status === 0, log: (r.stdout ?? "") + (r.stderr ?? "") };
}
/** What a change to `file` needs rebuilt: the guest (and the native module that embeds it, if a test uses it). */
function buildsFor(m) {
  if (m.build) return m.build;
  if (m.file.startsWith("assembly/")) return ["guest"];
  return ["native"];
}

// The unmutated build/, restored before every mutant.
const pristineBuild = path.join(tmp, "build.pristine");
function restoreBuild() {
  rmSync(path.join(scratch, "build"), { recursive: true, force: true });
  cpSync(pristineBuild, path.join(scratch, "build"), { recursive: true });
}
{
  // Prime the compiler cache with the unmutated tree, so every later native build only compiles what changed.
  const t0 = Date.now();
  const r = buildStep("native");
  if (!r.ok) {
    console.error(`mutate: the unmutated tree does not build:\n${r.log.slice(-4000)}`);
    process.exit(2);
  }
  cpSync(path.join(scratch, "build"), pristineBuild, { recursive: true });
  console.log(`mutate: scratch copy ${scratch}, native build primed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// ---- running the named tests -------------------------------------------------------------------------------
function selection(m) {
  return { files: m.tests, filter: m.filter ?? "" };
}
const selectionKey = (s) => JSON.stringify(s);
function runTests(s) {
  const report = path.join(tmp, `vitest-${createHash("sha1").update(selectionKey(s)).digest("hex").slice(0, 8)}-${Date.now()}.json`);
  const args = ["vitest", "run", ...s.files, "--reporter=json", `--outputFile=${report}`, ...(s.filter ? ["-t", s.filter] : [])];
  const r = spawnSync("npx", args, { cwd: scratch, encoding: "utf8", timeout: TEST_TIMEOUT_MS, maxBuffer: 256 << 20 });
  let passed = 0, failed = 0, failures = [];
  try {
    const j = JSON.parse(readFileSync(report, "utf8"));
    passed = j.numPassedTests;
    failed = j.numFailedTests;
    for (const f of j.testResults ?? [])
      for (const a of f.assertionResults ?? []) if (a.status === "failed") failures.push(a.fullName ?? a.title);
  } catch { /* no report: vitest itself failed (a crash, a timeout) */ }
  const timedOut = r.error?.code === "ETIMEDOUT";
  return { status: r.status, timedOut, passed, failed, failures, log: (r.stdout ?? "") + (r.stderr ?? "") };
}

if (baseline) {
  const seen = new Map();
  for (const m of mutants) seen.set(selectionKey(selection(m)), selection(m));
  for (const s of seen.values()) {
    const t0 = Date.now();
    const r = runTests(s);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (r.status !== 0 || r.failed || r.passed === 0) {
      console.error(`mutate: baseline failed for ${s.files.join(" ")}${s.filter ? ` -t "${s.filter}"` : ""}: ` +
        `${r.passed} passed, ${r.failed} failed (${secs} s) — fix the tests (or the filter) first\n${r.failures.join("\n")}\n${r.log.slice(-3000)}`);
      process.exit(2);
    }
    console.log(`mutate: baseline ${s.files.join(" ")}${s.filter ? ` -t "${s.filter}"` : ""}: ${r.passed} passed (${secs} s)`);
  }
}

// ---- the mutants --------------------------------------------------------------------------------------------
const results = [];
for (const m of mutants) {
  const t0 = Date.now();
  const file = path.join(scratch, m.file);
  const original = existsSync(file) ? readFileSync(file, "utf8") : null;
  const count = original === null ? 0 : original.split(m.find).length - 1;
  let verdict, detail = "";
  if (count !== 1) {
    verdict = "did-not-apply";
    detail = original === null ? `${m.file} does not exist` : `the snippet occurs ${count} times in ${m.file} (must be exactly once)`;
  } else {
    writeFileSync(file, original.replace(m.find, () => m.replace));
    let built = { ok: true, log: "" };
    for (const step of buildsFor(m)) {
      built = buildStep(step);
      if (!built.ok) break;
    }
    if (!built.ok) {
      verdict = "build-failed";
      detail = built.log.split("\n").filter((l) => /error/i.test(l)).slice(0, 3).join(" | ");
    } else {
      const r = runTests(selection(m));
      if (r.timedOut) verdict = "killed", detail = "timed out";
      else if (r.status !== 0 || r.failed > 0) verdict = "killed", detail = r.failures.slice(0, 2).join(" | ") || `vitest exit ${r.status}`;
      else verdict = "survived", detail = `${r.passed} tests passed`;
    }
    writeFileSync(file, original);
    restoreBuild();
  }
  const secs = (Date.now() - t0) / 1000;
  results.push({ ...m, verdict, detail, secs });
  console.log(`mutate: ${m.id.padEnd(28)} ${verdict.padEnd(13)} ${secs.toFixed(1).padStart(6)} s  ${detail}`);
}

// ---- the report -----------------------------------------------------------------------------------------
const counts = {};
for (const r of results) counts[r.verdict] = (counts[r.verdict] ?? 0) + 1;
const total = results.reduce((s, r) => s + r.secs, 0);
console.log("\n| id | file | what it breaks | result | s | killed by |");
console.log("|---|---|---|---|---|---|");
for (const r of results) {
  const by = r.verdict === "killed" ? r.detail.replace(/\|/g, "/").slice(0, 120) : r.detail;
  console.log(`| ${r.id} | ${r.file} | ${r.why.replace(/\|/g, "/")} | ${r.verdict} | ${r.secs.toFixed(0)} | ${by} |`);
}
console.log(`\nmutate: ${results.length} mutants: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ")} in ${(total / 60).toFixed(1)} min`);
process.exit(results.every((r) => r.verdict === "killed") ? 0 : 1);
