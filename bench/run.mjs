#!/usr/bin/env node
// npm run bench [-- --quick] [--rounds N] [--no-build] [--out FILE]: pam_mapi beside the PAM floor (pam_permit) and the physical limit (a raw
// C client), all against one fast canned responder, plus the guest alone, saslauthd, Apache, memory, size and
// failover. Prints a table and writes bench/results.json. Figures are medians over rounds with min–max; the
// machine is shared and noisy, so the ratios (measured side by side, interleaved) are what count.
// Needs root (saslauthd and Apache run as in production, under pam_wrapper) and the setup.sh packages.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const roundsArg = argv.indexOf("--rounds");
const outArg = argv.indexOf("--out");
const OUT = outArg >= 0 ? path.resolve(argv[outArg + 1]) : path.join(root, "bench/results.json");
const ROUNDS = roundsArg >= 0 ? Number(argv[roundsArg + 1]) : quick ? 2 : 7;
const RUN_SECONDS = quick ? 0.15 : 0.6; // target length of one timed run of an in-process driver
const DAEMON_SECONDS = quick ? 1 : 3; // one saslauthd or Apache run, whole seconds (ab -t takes an integer)
const DAEMON_ROUNDS = quick ? 1 : 3;
const USER = "alice";
const PASSWORD = "bench-secret";
// A real Kopano 11.0.2 logon reply (NO_REGISTER_SESSION), from the captures beside the checkout (as the tests find them).
// BENCH_WIRE_DIR overrides, to benchmark an older checkout elsewhere against the same reply.
const WIRE_DIR = process.env.BENCH_WIRE_DIR ?? path.join(root, "../shared/fixtures/wire/kopano-11.0.2");
const LOGON_REPLY = path.join(WIRE_DIR, "tcp-e-logon-noregister-flag2.resp.raw");

const log = (...a) => console.error("bench:", ...a);
if (process.getuid?.() !== 0) {
  log("run me as root: saslauthd and Apache are benchmarked as they run in production (see docs/performance.md)");
  process.exit(1);
}
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...opts });

// ---- build ----------------------------------------------------------------------------------------------------
if (!argv.includes("--no-build")) {
  if (!existsSync("build/pam_mapi.wasm")) sh("npm", ["run", "-s", "build:guest"], { stdio: "inherit" });
  sh("bash", ["native/build.sh"], { stdio: ["ignore", "ignore", "inherit"] });
}
sh("bash", ["bench/build.sh"], { stdio: "inherit" });
{
  // The daemon helpers the tests use, compiled once for plain Node.
  sh("node_modules/.bin/tsc", ["--outDir", "build/bench/helpers", "--module", "nodenext", "--moduleResolution", "nodenext",
    "--target", "es2022", "--skipLibCheck", "--types", "node", "test/helpers/daemons.ts"], { stdio: "inherit" });
}
const B = (tool) => path.join(root, "build/bench", tool);
const { startSaslauthd, startApache, writePamServiceDir, sharedTempDir, stopAll, httpStatus, childProcesses } =
  await import(path.join(root, "build/bench/helpers/daemons.js"));

// ---- helpers --------------------------------------------------------------------------------------------------
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], runs: s.length };
};
const fields = (text) => {
  const out = {};
  const words = text.trim().split(/\s+/);
  for (let i = 0; i + 1 < words.length; i += 2) out[words[i]] = Number(words[i + 1]);
  return out;
};
const run = (tool, args) => {
  try {
    return fields(sh(B(tool), args.map(String)));
  } catch (error) {
    throw new Error(`${tool} ${args.join(" ")} failed: ${error.stdout ?? ""}${error.message}`);
  }
};
// Iterations so that one run lasts about RUN_SECONDS, from a short calibration run.
const calibrate = (usPerIteration, floor = 3) => Math.max(floor, Math.round((RUN_SECONDS * 1e6) / usPerIteration));

function startProcess(cmd, args) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  const firstLine = new Promise((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (d) => {
      text += d;
      if (text.includes("\n")) resolve(text.split("\n")[0]);
    });
    child.once("exit", (code) => reject(new Error(`${cmd} exited (${code}) before it was ready`)));
  });
  return { child, firstLine, stop: () => { if (child.exitCode === null) child.kill("SIGTERM"); } };
}

// ---- fixtures -------------------------------------------------------------------------------------------------
const dir = sharedTempDir("pam-mapi-bench-");
const stoppers = [];
const results = { date: new Date().toISOString(), quick, rounds: ROUNDS, host: os.hostname(), cpus: os.cpus().length };
try {
  const canned = startProcess(B("canned"), [LOGON_REPLY, path.join(dir, "request.raw")]);
  stoppers.push(canned.stop);
  const port = Number((await canned.firstLine).split(" ")[1]);
  const dead = startProcess(B("blackhole"), []);
  stoppers.push(dead.stop);
  const deadPorts = fields(await dead.firstLine);

  const so = path.join(root, "build/pam_mapi.so");
  const config = path.join(dir, "pam_mapi.conf");
  writeFileSync(config, "# empty: everything comes from the module arguments\n", { mode: 0o644 });
  const mapi = (sockets, extra = "") =>
    `auth required ${so} config=${config} socket=${sockets} ${extra}\naccount required ${so} config=${config}\n`;
  const services = {
    permit: "auth required pam_permit.so\naccount required pam_permit.so\n",
    mapi: mapi(`http://127.0.0.1:${port}/`),
  };
  for (const [name, p] of Object.entries(deadPorts)) {
    services[`failover-${name}`] = mapi(`http://127.0.0.1:${p}/,http://127.0.0.1:${port}/`, "timeout=0.5");
  }
  const pamDir = writePamServiceDir(path.join(dir, "pam.d"), services);

  // ---- in-process: pam_mapi, pam_permit, raw client, interleaved ----------------------------------------------
  log(`in-process (${ROUNDS} rounds)`);
  run("pamloop", [pamDir, "mapi", USER, PASSWORD, 3]); // the first request is recorded for the raw client
  const request = path.join(dir, "request.raw");
  const n = {
    permit: calibrate(run("pamloop", [pamDir, "permit", USER, PASSWORD, 50]).us_per_auth),
    mapi: calibrate(run("pamloop", [pamDir, "mapi", USER, PASSWORD, 10]).us_per_auth),
    raw: calibrate(run("rawclient", [port, request, 50]).us_per_auth),
  };
  const inproc = { permit: [], mapi: [], raw: [], ratio: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const permit = run("pamloop", [pamDir, "permit", USER, PASSWORD, n.permit]).us_per_auth;
    const m = run("pamloop", [pamDir, "mapi", USER, PASSWORD, n.mapi]).us_per_auth;
    const raw = run("rawclient", [port, request, n.raw]).us_per_auth;
    inproc.permit.push(permit), inproc.mapi.push(m), inproc.raw.push(raw), inproc.ratio.push((m - permit) / raw);
  }
  rmSync(request, { force: true }); // it holds the bench password
  results.inProcess = {
    unit: "µs per auth", iterations: n,
    pam_mapi: stats(inproc.mapi), pam_permit: stats(inproc.permit), raw_client: stats(inproc.raw),
    ratio_mapi_minus_permit_over_raw: stats(inproc.ratio), target: 1.15,
  };

  // ---- the guest alone ----------------------------------------------------------------------------------------
  log("guest alone");
  const reply = readFileSync(LOGON_REPLY);
  const bodyFile = path.join(dir, "logon-reply-body.xml");
  writeFileSync(bodyFile, reply.subarray(reply.indexOf("\r\n\r\n") + 4));
  const gn = calibrate((({ us_authenticate: a, us_pam_call: p }) => a + p)(run("guestloop", [bodyFile, 100])));
  const guest = { authenticate: [], pamCall: [], grows: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const g = run("guestloop", [bodyFile, gn]);
    guest.authenticate.push(g.us_authenticate), guest.pamCall.push(g.us_pam_call);
    guest.grows = Math.max(guest.grows, g.grows_per_call);
  }
  results.guest = {
    unit: "µs per call (instantiate + call + wipe + free)", iterations: gn,
    authenticate: stats(guest.authenticate), pam_call_configure_and_authenticate: stats(guest.pamCall),
    memory_grows_per_pam_call: guest.grows, target_authenticate: 20,
  };

  // ---- memory and size ----------------------------------------------------------------------------------------
  log("memory and size");
  const mem = { peak: [], retained: [], anon: [] };
  for (let r = 0; r < Math.max(3, ROUNDS); r++) {
    const m = run("pamloop", ["--memory", pamDir, "permit", "mapi", USER, PASSWORD]);
    mem.peak.push(m.peak_added_kib), mem.retained.push(m.retained_kib), mem.anon.push(m.anon_added_kib);
  }
  const stripped = path.join(dir, "pam_mapi.stripped.so");
  copyFileSync(so, stripped);
  sh("strip", ["--strip-unneeded", stripped]);
  results.memory = {
    unit: "KiB", peak_added_by_one_auth: stats(mem.peak), retained_after_pam_end: stats(mem.retained),
    private_anonymous_retained: stats(mem.anon), target: 1024,
  };
  results.size = { unit: "bytes", unstripped: statSync(so).size, stripped: statSync(stripped).size };

  // ---- failover ------------------------------------------------------------------------------------------------
  log("failover");
  results.failover = { unit: "ms per auth, first server dead, second the canned responder; timeout=0.5 s" };
  for (const kind of Object.keys(deadPorts)) {
    const times = [];
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      times.push(run("pamloop", [pamDir, `failover-${kind}`, USER, PASSWORD, kind === "refused" ? 50 : 2]).us_per_auth / 1000);
    }
    results.failover[kind] = stats(times);
  }

  // ---- saslauthd -a pam -n 2 -----------------------------------------------------------------------------------
  log("saslauthd");
  const sasl = await startSaslauthd({ serviceDir: pamDir, processes: 2 });
  stoppers.push(() => sasl.stop());
  for (const service of ["permit", "mapi"]) {
    if ((await sasl.auth(USER, PASSWORD, service)) !== "OK") throw new Error(`saslauthd: ${service} did not say OK`);
  }
  const saslRuns = { permit: [], mapi: [], ratio: [] };
  for (let r = 0; r < DAEMON_ROUNDS; r++) {
    const p = run("saslclient", [sasl.socketPath, USER, PASSWORD, "permit", 2, DAEMON_SECONDS]).auths_per_s;
    const m = run("saslclient", [sasl.socketPath, USER, PASSWORD, "mapi", 2, DAEMON_SECONDS]).auths_per_s;
    saslRuns.permit.push(p), saslRuns.mapi.push(m), saslRuns.ratio.push(m / p);
  }
  await sasl.stop();
  results.saslauthd = {
    unit: "auths/s, 2 client threads", pam_mapi: stats(saslRuns.mapi), pam_permit: stats(saslRuns.permit),
    ratio: stats(saslRuns.ratio), target: 0.7,
  };

  // ---- Apache, 8 concurrent clients ----------------------------------------------------------------------------
  log("apache");
  // Keep-alive (ab -k): Basic auth still runs PAM on every request, and 8 client connections in place of one per
  // request leave the loopback port range alone (tens of thousands of TIME_WAIT sockets stall connect()).
  const keepAlive = (command, args) => {
    const conf = args[args.indexOf("-f") + 1];
    return ["sh", ["-c", 'sed -i "s/^KeepAlive Off$/KeepAlive On/" "$0" && exec "$@"', conf, command, ...args]];
  };
  const apaches = {};
  const workers = {}; // startApache has set up pam_wrapper in these; a new worker would do it again, racily
  const workersOf = (service) => childProcesses(apaches[service].pid()).sort((a, b) => a - b).join(",");
  for (const service of ["permit", "mapi"]) {
    apaches[service] = await startApache({ serviceDir: pamDir, pamService: service, wrap: keepAlive });
    stoppers.push(() => apaches[service].stop());
    workers[service] = workersOf(service);
    const status = await httpStatus(`${apaches[service].url}/private/secret.txt`, { user: USER, password: PASSWORD });
    if (status !== 200) throw new Error(`apache ${service}: status ${status}`);
  }
  const ab = (service, limit = ["-t", String(DAEMON_SECONDS), "-n", "1000000"]) => {
    const out = sh("ab", ["-q", "-k", "-c", "8", ...limit, "-A", `${USER}:${PASSWORD}`,
      `${apaches[service].url}/private/secret.txt`]);
    const rps = Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1]);
    // A 401 (a failed authentication) is a non-2xx response. ab's "Failed requests" also counts keep-alive
    // connections that mpm_event closes under load (ab reconnects): not an authentication failure.
    const denied = Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    if (!(rps > 0) || denied) throw new Error(`ab ${service}: ${rps} req/s, ${denied} not 200\n${out}`);
    if (workersOf(service) !== workers[service]) {
      throw new Error(`ab ${service}: Apache's workers changed (${workers[service]} -> ${workersOf(service)}): a new one sets up pam_wrapper under load`);
    }
    return rps;
  };
  // A fresh Apache is slow for its first second or so (worker threads, first module loads): warm both. pam_wrapper's
  // per-worker set-up is not thread-safe (concurrent first requests in a fresh worker get 401 from a half-copied
  // service dir, not from any module): startApache has already done it in every worker, one request at a time.
  for (const service of ["permit", "mapi"]) ab(service, quick ? ["-n", "100"] : ["-t", "1", "-n", "1000000"]);
  const web = { permit: [], mapi: [], ratio: [] };
  for (let r = 0; r < DAEMON_ROUNDS; r++) {
    const p = ab("permit"), m = ab("mapi");
    web.permit.push(p), web.mapi.push(m), web.ratio.push(m / p);
  }
  results.apache = {
    unit: "requests/s, ab -k -c 8, Basic auth (PAM on every request), mpm_event 2x4 threads", pam_mapi: stats(web.mapi),
    pam_permit: stats(web.permit), ratio: stats(web.ratio), target: 0.7,
  };
} finally {
  for (const stop of stoppers.reverse()) await Promise.resolve().then(stop).catch((e) => log("stop:", e.message));
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

// ---- report ---------------------------------------------------------------------------------------------------
const f = (s, digits = 1) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const rows = [
  ["in-process µs/auth", "pam_mapi", f(results.inProcess.pam_mapi), ""],
  ["", "pam_permit (PAM floor)", f(results.inProcess.pam_permit), ""],
  ["", "raw C client (physical limit)", f(results.inProcess.raw_client), ""],
  ["", "(pam_mapi − permit) / raw", f(results.inProcess.ratio_mapi_minus_permit_over_raw, 2), "≤ 1.15"],
  ["guest alone µs/call", "authenticate", f(results.guest.authenticate, 2), "≤ 20"],
  ["", "PAM call: configure + authenticate", f(results.guest.pam_call_configure_and_authenticate, 2), ""],
  ["", "memory.grow per PAM call", String(results.guest.memory_grows_per_pam_call), "0"],
  ["saslauthd -n 2 auths/s", "pam_mapi", f(results.saslauthd.pam_mapi), ""],
  ["", "pam_permit", f(results.saslauthd.pam_permit), ""],
  ["", "ratio", f(results.saslauthd.ratio, 2), "≥ 0.7"],
  ["Apache -k -c 8 req/s", "pam_mapi", f(results.apache.pam_mapi), ""],
  ["", "pam_permit", f(results.apache.pam_permit), ""],
  ["", "ratio", f(results.apache.ratio, 2), "≥ 0.7"],
  ["memory KiB", "peak added by one auth", f(results.memory.peak_added_by_one_auth, 0), "≤ 1024"],
  ["", "still resident after pam_end", f(results.memory.retained_after_pam_end, 0), ""],
  ["", "of which private (RssAnon)", f(results.memory.private_anonymous_retained, 0), ""],
  ["pam_mapi.so bytes", "unstripped / stripped", `${results.size.unstripped} / ${results.size.stripped}`, ""],
  ["failover ms/auth", "first server refuses", f(results.failover.refused, 2), ""],
  ["(timeout=0.5 s)", "first accepts, never answers", f(results.failover.silent, 0), ""],
  ["", "first drops SYNs (full backlog)", f(results.failover.drop, 0), ""],
];
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), 6));
const line = (r) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
console.log(line(["figure", "what", "median (min–max)", "target"]));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows) console.log(line(r));
writeFileSync(OUT, JSON.stringify(results, null, 2) + "\n");
console.log(`\n${quick ? "quick run; " : ""}${ROUNDS} rounds; written to ${path.relative(root, OUT)}`);
