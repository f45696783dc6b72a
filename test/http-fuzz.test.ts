// A short, fixed-seed run of the HTTP client's differential fuzzer (test/fuzz/http-fuzz.c) on every CI run: the
// module's own native/http_client.c, its sockets and clock wrapped at link time, against an independent strict
// RFC 9112 reader (test/fuzz/strict_http.c), every reply posted whole, cut at random and cut into single bytes,
// under ASan and UBSan. `npm run fuzz` runs the long coverage-guided campaign (libFuzzer).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./helpers/pam.js";

const HARNESS = path.join(repoRoot, "build/fuzz/http-fuzz");
const CORPUS = path.join(repoRoot, "test/fuzz/http-corpus");
const RUNS = Number(process.env.HTTP_FUZZ_RUNS ?? 20000);
const SEED = Number(process.env.HTTP_FUZZ_SEED ?? 20261206);

function build(out: string, client?: string) {
  execFileSync("bash", [path.join(repoRoot, "test/fuzz/build-http-fuzz.sh")], {
    env: { ...process.env, OUT: out, ...(client ? { HTTP_CLIENT_C: client } : {}) }, stdio: "pipe",
  });
}

function fuzz(harness: string, args: string[]) {
  const r = spawnSync(harness, args, { encoding: "utf8", timeout: 120_000, env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1" } });
  const verdicts = Object.fromEntries([...(r.stdout.match(/strict verdicts: (.*)/)?.[1] ?? "").matchAll(/([a-z-]+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, verdicts };
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "http-fuzz-"));
  build(HARNESS);
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("HTTP client differential fuzzer", () => {
  it("the seed corpus (the issue's reproducers among them) agrees with the strict reader", () => {
    const files = readdirSync(CORPUS).filter((f) => !f.startsWith(".")).map((f) => path.join(CORPUS, f));
    expect(files.length).toBeGreaterThanOrEqual(10);
    const r = fuzz(HARNESS, files);
    expect(r.stderr).not.toContain("FINDING");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`http-fuzz: ${files.length} cases (${files.length * 3} http_post runs)`);
  });

  it(`${RUNS} generated replies (seed ${SEED}), each cut three ways: no finding, every verdict reached`, () => {
    const r = fuzz(HARNESS, ["--runs", String(RUNS), "--seed", String(SEED)]);
    expect(r.stderr).not.toMatch(/FINDING|ERROR: AddressSanitizer|runtime error/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`http-fuzz: ${RUNS} cases (${RUNS * 3} http_post runs)`);
    for (const v of ["message", "status", "invalid", "limit", "too-large", "more"]) expect(r.verdicts[v], v).toBeGreaterThan(RUNS / 200);
  }, 120_000);

  // The campaign can fail: each planted bug (one per kind of finding in issue 11) is found by the same run.
  it.each<[string, string, string]>([
    ["Transfer-Encoding from HTTP/1.0 accepted", "interim || h->minor == 0 || h->framing", "interim || h->framing"],
    ["BWS before ';' in a chunk extension refused", "    i = skip_ws(p, i, n);\n    if (i == n || p[i] != ';') return false;", "    if (p[i] != ';') return false;"],
    ["the trailer cap not enforced on whole lines", "if (n + 2 > HTTP_HEAD_CAP - c->trailers) return TE_MALFORMED;", ""],
    ["a bare LF taken as a line end", "      if (!after_cr) return LINE_BAD;\n", ""],
  ])("a planted bug is found: %s", (_name, from, to) => {
    const source = readFileSync(path.join(repoRoot, "native/http_client.c"), "utf8");
    expect(source, "the planted bug's anchor is gone from http_client.c: update this test").toContain(from);
    const client = path.join(tmp, `http_client_${Math.random().toString(36).slice(2)}.c`);
    writeFileSync(client, `#line 1 "native/http_client.c"\n` + source.replace(from, to));
    const harness = client.replace(/\.c$/, "");
    execFileSync("bash", [path.join(repoRoot, "test/fuzz/build-http-fuzz.sh")], {
      env: { ...process.env, OUT: harness, HTTP_CLIENT_C: client }, stdio: "pipe",
    });
    const r = fuzz(harness, ["--runs", String(RUNS), "--seed", String(SEED)]);
    expect(r.stderr).toContain("FINDING");
    expect(r.signal).toBe("SIGABRT");
  }, 120_000);
});
