// `npm run bench -- --quick` end to end (bench/run.mjs): the benchmark drivers build, every pam_mapi
// authentication they time succeeds (a driver exits non-zero on any failure, which fails the run), and every
// figure lands in the results file. The figures themselves are not judged here: the machine is shared.
// Needs `npm run build` and root (saslauthd and Apache, as in test/consumers.test.ts).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const scratch = mkdtempSync(path.join(os.tmpdir(), "bench-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A figure: finite, ordered, from at least one run. On its own that holds for almost any output, so the test below
// also checks relations that hold by construction of the work (a login over TCP costs more than pam_permit's
// no-op and more than the guest alone), which a driver that timed nothing, or the wrong thing, breaks.
const positive = (s: { median: number; min: number; max: number; runs: number }) => {
  expect(Number.isFinite(s.max)).toBe(true);
  expect(s.runs).toBeGreaterThanOrEqual(1);
  expect(s.min).toBeGreaterThan(0);
  expect(s.median).toBeGreaterThanOrEqual(s.min);
  expect(s.max).toBeGreaterThanOrEqual(s.median);
};

describe("npm run bench -- --quick", () => {
  it("measures every figure beside its reference and writes them all", () => {
    const out = path.join(scratch, "results.json");
    const table = execFileSync("node", ["bench/run.mjs", "--quick", "--no-build", "--out", out],
      { encoding: "utf8", timeout: 230_000, stdio: ["ignore", "pipe", "pipe"] });
    expect(table).toMatch(/\(pam_mapi − permit\) \/ raw/);
    const r = JSON.parse(readFileSync(out, "utf8"));
    const daemon = (d: any) => [d.pam_permit, d.pam_mapi, d.pam_raw_module, d.unix_socket.pam_mapi, d.unix_socket.pam_raw_module];
    for (const s of [r.inProcess.pam_mapi, r.inProcess.pam_permit, r.inProcess.raw_client, r.inProcess.pam_raw_module,
      r.inProcess.unix_socket.pam_mapi, r.inProcess.unix_socket.raw_client, r.inProcess.unix_socket.pam_raw_module,
      r.guest.authenticate, r.guest.pam_call_configure_and_authenticate, ...daemon(r.saslauthd), ...daemon(r.apache),
      r.memory.peak_added_by_one_auth, r.failover.refused, r.failover.silent, r.failover.drop,
      r.https.pam_mapi_full, r.https.pam_mapi_resumed, r.https.raw_tls_full, r.https.raw_tls_resumed,
      r.https.cpu.pam_mapi_full, r.https.cpu.raw_tls_full, r.memory.https.peak_added_by_first_login,
      r.saslauthd.https.pam_mapi, r.apache.https.pam_mapi]) positive(s);
    for (const s of [r.inProcess.pam_mapi, r.inProcess.pam_permit, r.guest.authenticate]) expect(s.runs).toBe(r.rounds);
    const ip = r.inProcess;
    // Only relations far outside the noise of this shared machine: a whole PAM call with a round trip costs tens of
    // times the guest alone (pam_mapi against pam_permit is within the noise of a --quick run under load).
    expect(ip.pam_mapi.median).toBeGreaterThan(r.guest.authenticate.median);
    expect(ip.unix_socket.pam_mapi.median).toBeGreaterThan(r.guest.authenticate.median);
    expect(r.guest.memory_grows_per_pam_call).toBe(0);
    // pam-mapi's start-up beside pamtester and testsaslauthd (bench/cli.mjs); every timed run succeeded.
    expect(Object.keys(r.cli.commands)).toEqual(["node -e 0 (floor)", "pam-mapi --version", "pam-mapi config", "pam-mapi check",
      "pamtester (pam_wrapper)", "testsaslauthd"]);
    for (const s of Object.values(r.cli.commands) as Array<{ median: number; min: number; max: number }>) positive(s);
    expect(r.size.stripped).toBeGreaterThan(0);
    expect(r.size.unstripped).toBeGreaterThanOrEqual(r.size.stripped);
    // A dead first server is skipped within the 0.5 s deadline (plus scheduling slack), never waited out twice.
    expect(r.failover.silent.max).toBeLessThan(1500);
    expect(r.failover.drop.max).toBeLessThan(1500);
  }, 240_000);
});
