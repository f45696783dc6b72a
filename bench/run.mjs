#!/usr/bin/env node
// npm run bench [-- --quick] [--rounds N] [--no-build] [--out FILE]: pam_mapi beside the PAM floor (pam_permit) and
// the physical limits (a raw C client, and pam_raw.so: a PAM module that only converses and makes the raw round
// trip), all against one fast canned responder over TCP and over a unix socket (the module's default transport),
// plus https (a TLS responder, a raw OpenSSL client, full handshakes and resumed), the guest alone, saslauthd,
// Apache, memory, size, failover and the `pam-mapi` command's start-up (bench/cli.mjs). Prints a table and writes
// bench/results.json. Figures are medians over rounds with min–max; the machine is shared and noisy, so the
// ratios (measured side by side, interleaved) are what count.
// Needs root (saslauthd and Apache run as in production, under pam_wrapper) and the setup.sh packages.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchCli, cliRows } from "./cli.mjs";

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
// BENCH_BEFORE_SO: another build of pam_mapi.so (e.g. the libcurl one) measured over https beside this one, in
// the same rounds, for before/after tables.
const BEFORE_SO = process.env.BENCH_BEFORE_SO ?? "";

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
  sh("npm", ["run", "-s", "build:host"], { stdio: "inherit" });
}
sh("bash", ["bench/build.sh"], { stdio: "inherit" });
{
  // The daemon helpers the tests use, compiled once for plain Node.
  sh("node_modules/.bin/tsc", ["--outDir", "build/bench/helpers", "--module", "nodenext", "--moduleResolution", "nodenext",
    "--target", "es2022", "--skipLibCheck", "--types", "node", "test/helpers/daemons.ts"], { stdio: "inherit" });
}
const B = (tool) => path.join(root, "build/bench", tool);
const { startSaslauthd, startApache, writePamServiceDir, pamWrapperEnv, sharedTempDir, stopAll, httpStatus, childProcesses } =
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

// The daemons serve six PAM services: the floor, pam_mapi and pam_raw.so over TCP and over the unix socket, and
// pam_mapi over https (against the resuming TLS listener, as a daemon's logins to Kopano would be).
const DAEMON_SERVICES = ["permit", "mapi", "raw", "mapi-unix", "raw-unix", "mapi-https"];
// DAEMON_ROUNDS rounds of every service one after the other; each ratio is to pam_permit in the same round.
function daemonRounds(throughput) {
  const runs = Object.fromEntries(DAEMON_SERVICES.map((s) => [s, []]));
  const ratios = { mapi: [], raw: [], "mapi-unix": [], "raw-unix": [], "mapi-https": [] };
  for (let r = 0; r < DAEMON_ROUNDS; r++) {
    const t = {};
    for (const service of DAEMON_SERVICES) runs[service].push((t[service] = throughput(service)));
    for (const service of Object.keys(ratios)) ratios[service].push(t[service] / t.permit);
  }
  return {
    pam_permit: stats(runs.permit), pam_mapi: stats(runs.mapi), pam_raw_module: stats(runs.raw),
    ratio: stats(ratios.mapi), ratio_raw_module: stats(ratios.raw), target: 0.7,
    unix_socket: {
      pam_mapi: stats(runs["mapi-unix"]), pam_raw_module: stats(runs["raw-unix"]),
      ratio: stats(ratios["mapi-unix"]), ratio_raw_module: stats(ratios["raw-unix"]),
    },
    https: { pam_mapi: stats(runs["mapi-https"]), ratio: stats(ratios["mapi-https"]) },
  };
}

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
  // The module's requests as the responder recorded them, per listener: the raw client and pam_raw.so send these.
  const request = { tcp: path.join(dir, "request.raw"), unix: path.join(dir, "request.raw.unix") };
  const socketPath = path.join(dir, "canned.sock");
  const canned = startProcess(B("canned"), [LOGON_REPLY, request.tcp, socketPath]);
  stoppers.push(canned.stop);
  const port = Number((await canned.firstLine).split(" ")[1]);
  // https: a test CA and a certificate for localhost, the TLS responder (a resuming and a non-resuming listener)
  const pki = path.join(dir, "pki");
  mkdirSync(pki);
  const ossl = (args) => sh("openssl", args, { cwd: pki, stdio: ["ignore", "ignore", "ignore"] });
  ossl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
    "-subj", "/CN=bench CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
  ossl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  writeFileSync(path.join(pki, "server.ext"), "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n");
  ossl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
    "-extfile", "server.ext", "-out", "server.pem"]);
  const caFile = path.join(pki, "ca.pem");
  request.tls = path.join(dir, "request.raw.tls");
  const cannedTls = startProcess(B("canned_tls"), [LOGON_REPLY, path.join(pki, "server.pem"), path.join(pki, "server.key"), request.tls]);
  stoppers.push(cannedTls.stop);
  const [tlsPort, tlsFullPort] = (await cannedTls.firstLine).split(" ").slice(1).map(Number);
  const dead = startProcess(B("blackhole"), []);
  stoppers.push(dead.stop);
  const deadPorts = fields(await dead.firstLine);

  const so = path.join(root, "build/pam_mapi.so");
  const config = path.join(dir, "pam_mapi.conf");
  writeFileSync(config, "# empty: everything comes from the module arguments\n", { mode: 0o644 });
  const mapi = (sockets, extra = "", module = so) =>
    `auth required ${module} config=${config} socket=${sockets} ${extra}\naccount required ${module} config=${config}\n`;
  const rawModule = (endpoint, requestFile) =>
    `auth required ${B("pam_raw.so")} ${endpoint} ${requestFile}\naccount required ${B("pam_raw.so")}\n`;
  const services = {
    permit: "auth required pam_permit.so\naccount required pam_permit.so\n",
    mapi: mapi(`http://127.0.0.1:${port}/`),
    raw: rawModule(port, request.tcp),
    "mapi-unix": mapi(`file://${socketPath}`),
    "raw-unix": rawModule(socketPath, request.unix),
    "mapi-https": mapi(`https://localhost:${tlsPort}/`, `cafile=${caFile}`),
    "mapi-https-full": mapi(`https://localhost:${tlsFullPort}/`, `cafile=${caFile}`),
  };
  if (BEFORE_SO) {
    services["before-https"] = mapi(`https://localhost:${tlsPort}/`, `cafile=${caFile}`, BEFORE_SO);
    services["before-https-full"] = mapi(`https://localhost:${tlsFullPort}/`, `cafile=${caFile}`, BEFORE_SO);
  }
  for (const [name, p] of Object.entries(deadPorts)) {
    services[`failover-${name}`] = mapi(`http://127.0.0.1:${p}/,http://127.0.0.1:${port}/`, "timeout=0.5");
  }
  const pamDir = writePamServiceDir(path.join(dir, "pam.d"), services);

  // ---- in-process: pam_mapi, pam_permit, pam_raw.so, raw client, over TCP and the unix socket, interleaved ------
  log(`in-process (${ROUNDS} rounds)`);
  // The first request on each listener is recorded for the raw client and pam_raw.so.
  run("pamloop", [pamDir, "mapi", USER, PASSWORD, 3]);
  run("pamloop", [pamDir, "mapi-unix", USER, PASSWORD, 3]);
  const pamLoop = (service) => (k) => run("pamloop", [pamDir, service, USER, PASSWORD, k]).us_per_auth;
  const loops = {
    permit: pamLoop("permit"),
    mapi: pamLoop("mapi"),
    raw_module: pamLoop("raw"),
    raw: (k) => run("rawclient", [port, request.tcp, k]).us_per_auth,
    mapi_unix: pamLoop("mapi-unix"),
    raw_module_unix: pamLoop("raw-unix"),
    raw_unix: (k) => run("rawclient", [socketPath, request.unix, k]).us_per_auth,
  };
  const n = Object.fromEntries(Object.entries(loops).map(([name, loop]) => [name, calibrate(loop(20))]));
  const inproc = Object.fromEntries(Object.keys(loops).map((name) => [name, []]));
  const ratio = { mapi: [], raw_module: [], mapi_unix: [], raw_module_unix: [], above_module: [], above_module_unix: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const t = {};
    for (const [name, loop] of Object.entries(loops)) inproc[name].push((t[name] = loop(n[name])));
    ratio.mapi.push((t.mapi - t.permit) / t.raw);
    ratio.raw_module.push((t.raw_module - t.permit) / t.raw);
    ratio.mapi_unix.push((t.mapi_unix - t.permit) / t.raw_unix);
    ratio.raw_module_unix.push((t.raw_module_unix - t.permit) / t.raw_unix);
    ratio.above_module.push(t.mapi - t.raw_module);
    ratio.above_module_unix.push(t.mapi_unix - t.raw_module_unix);
  }
  results.inProcess = {
    unit: "µs per auth", iterations: n,
    pam_mapi: stats(inproc.mapi), pam_permit: stats(inproc.permit), raw_client: stats(inproc.raw),
    pam_raw_module: stats(inproc.raw_module),
    ratio_mapi_minus_permit_over_raw: stats(ratio.mapi), target: 1.15,
    // The same ratio for pam_raw.so, which only converses and makes the raw round trip: the floor of any module.
    ratio_raw_module_minus_permit_over_raw: stats(ratio.raw_module),
    pam_mapi_minus_raw_module_us: stats(ratio.above_module),
    unix_socket: {
      pam_mapi: stats(inproc.mapi_unix), pam_raw_module: stats(inproc.raw_module_unix), raw_client: stats(inproc.raw_unix),
      ratio_mapi_minus_permit_over_raw: stats(ratio.mapi_unix),
      ratio_raw_module_minus_permit_over_raw: stats(ratio.raw_module_unix),
      pam_mapi_minus_raw_module_us: stats(ratio.above_module_unix),
    },
  };

  // ---- https: pam_mapi beside the raw TLS client, full handshakes and resumed, interleaved ---------------------
  log(`https (${ROUNDS} rounds)`);
  run("pamloop", [pamDir, "mapi-https-full", USER, PASSWORD, 3]); // records the request for the raw client
  // Wall time and, less disturbed by the other jobs on a shared machine, the client's own CPU time per login.
  const cpu = {};
  const timed = (name, out) => ((cpu[name] = out.cpu_us_per_auth), out.us_per_auth);
  const pamTimed = (service) => (k) => timed(service, run("pamloop", [pamDir, service, USER, PASSWORD, k]));
  const tlsLoops = {
    permit: pamTimed("permit"),
    mapi_full: pamTimed("mapi-https-full"),
    mapi_resumed: pamTimed("mapi-https"),
    raw_full: (k) => timed("raw_full", run("rawtls", [tlsFullPort, caFile, request.tls, k])),
    raw_resumed: (k) => timed("raw_resumed", run("rawtls", [tlsPort, caFile, request.tls, k, "resume"])),
    ...(BEFORE_SO ? { before_full: pamTimed("before-https-full"), before_resumed: pamTimed("before-https") } : {}),
  };
  const tn = Object.fromEntries(Object.entries(tlsLoops).map(([name, loop]) => [name, calibrate(loop(10))]));
  const tls = Object.fromEntries(Object.keys(tlsLoops).map((name) => [name, []]));
  const tlsCpu = Object.fromEntries(Object.keys(tlsLoops).map((name) => [name, []]));
  const tlsRatio = { full: [], resumed_over_full: [], raw_resumed_over_full: [], before_full: [], cpu_full: [], cpu_resumed_over_full: [], cpu_before_full: [] };
  const cpuOf = { permit: "permit", mapi_full: "mapi-https-full", mapi_resumed: "mapi-https", raw_full: "raw_full",
    raw_resumed: "raw_resumed", before_full: "before-https-full", before_resumed: "before-https" };
  for (let r = 0; r < ROUNDS; r++) {
    const t = {}, c = {};
    for (const [name, loop] of Object.entries(tlsLoops)) {
      tls[name].push((t[name] = loop(tn[name])));
      tlsCpu[name].push((c[name] = cpu[cpuOf[name]]));
    }
    tlsRatio.full.push((t.mapi_full - t.permit) / t.raw_full);
    tlsRatio.resumed_over_full.push((t.mapi_resumed - t.permit) / (t.mapi_full - t.permit));
    tlsRatio.raw_resumed_over_full.push(t.raw_resumed / t.raw_full);
    tlsRatio.cpu_full.push((c.mapi_full - c.permit) / c.raw_full);
    tlsRatio.cpu_resumed_over_full.push((c.mapi_resumed - c.permit) / (c.mapi_full - c.permit));
    if (BEFORE_SO) {
      tlsRatio.before_full.push((t.before_full - t.permit) / t.raw_full);
      tlsRatio.cpu_before_full.push((c.before_full - c.permit) / c.raw_full);
    }
  }
  results.https = {
    unit: "µs per auth", iterations: tn,
    pam_permit: stats(tls.permit), pam_mapi_full: stats(tls.mapi_full), pam_mapi_resumed: stats(tls.mapi_resumed),
    raw_tls_full: stats(tls.raw_full), raw_tls_resumed: stats(tls.raw_resumed),
    ratio_mapi_full_minus_permit_over_raw_full: stats(tlsRatio.full), target_full: 1.1,
    ratio_mapi_resumed_over_full: stats(tlsRatio.resumed_over_full), target_resumed: 0.6,
    ratio_raw_resumed_over_full: stats(tlsRatio.raw_resumed_over_full),
    cpu: {
      unit: "client CPU µs per auth (user + system)",
      pam_permit: stats(tlsCpu.permit), pam_mapi_full: stats(tlsCpu.mapi_full), pam_mapi_resumed: stats(tlsCpu.mapi_resumed),
      raw_tls_full: stats(tlsCpu.raw_full), raw_tls_resumed: stats(tlsCpu.raw_resumed),
      ratio_mapi_full_minus_permit_over_raw_full: stats(tlsRatio.cpu_full),
      ratio_mapi_resumed_over_full: stats(tlsRatio.cpu_resumed_over_full),
    },
    ...(BEFORE_SO ? {
      before: { module: BEFORE_SO, pam_mapi_full: stats(tls.before_full), pam_mapi_resumed: stats(tls.before_resumed),
        ratio_full_minus_permit_over_raw_full: stats(tlsRatio.before_full),
        cpu_full: stats(tlsCpu.before_full), cpu_resumed: stats(tlsCpu.before_resumed),
        cpu_ratio_full_minus_permit_over_raw_full: stats(tlsRatio.cpu_before_full) },
    } : {}),
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
  const memHttps = { peak: [], retained: [], anon: [] }, memBefore = { peak: [], retained: [], anon: [] };
  const measure = (service, into) => {
    const m = run("pamloop", ["--memory", pamDir, "permit", service, USER, PASSWORD]);
    into.peak.push(m.peak_added_kib), into.retained.push(m.retained_kib), into.anon.push(m.anon_added_kib);
  };
  for (let r = 0; r < Math.max(3, ROUNDS); r++) {
    measure("mapi", mem);
    measure("mapi-https", memHttps); // the process's first https login: OpenSSL's context, the CA file, a handshake
    if (BEFORE_SO) measure("before-https", memBefore);
  }
  const stripped = path.join(dir, "pam_mapi.stripped.so");
  copyFileSync(so, stripped);
  sh("strip", ["--strip-unneeded", stripped]);
  results.memory = {
    unit: "KiB", peak_added_by_one_auth: stats(mem.peak), retained_after_pam_end: stats(mem.retained),
    private_anonymous_retained: stats(mem.anon), target: 1024,
    https: { peak_added_by_first_login: stats(memHttps.peak), retained_after_pam_end: stats(memHttps.retained),
      private_anonymous_retained: stats(memHttps.anon) },
    ...(BEFORE_SO ? { before_https: { peak_added_by_first_login: stats(memBefore.peak),
      retained_after_pam_end: stats(memBefore.retained), private_anonymous_retained: stats(memBefore.anon) } } : {}),
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
  for (const service of DAEMON_SERVICES) {
    if ((await sasl.auth(USER, PASSWORD, service)) !== "OK") throw new Error(`saslauthd: ${service} did not say OK`);
  }
  results.saslauthd = {
    unit: "auths/s, 2 client threads",
    ...daemonRounds((service) => run("saslclient", [sasl.socketPath, USER, PASSWORD, service, 2, DAEMON_SECONDS]).auths_per_s),
  };
  await sasl.stop();

  // ---- pam-mapi start-up, beside pamtester and testsaslauthd making the same check ------------------------------
  log("pam-mapi command start-up");
  results.cli = await benchCli({ helpers: { startSaslauthd, writePamServiceDir, pamWrapperEnv }, dir, runs: quick ? 5 : 21 });

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
  for (const service of DAEMON_SERVICES) {
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
  for (const service of DAEMON_SERVICES) ab(service, quick ? ["-n", "100"] : ["-t", "1", "-n", "1000000"]);
  results.apache = {
    unit: "requests/s, ab -k -c 8, Basic auth (PAM on every request), mpm_event 2x4 threads",
    ...daemonRounds((service) => ab(service)),
  };
} finally {
  for (const stop of stoppers.reverse()) await Promise.resolve().then(stop).catch((e) => log("stop:", e.message));
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

// ---- report ---------------------------------------------------------------------------------------------------
const f = (s, digits = 1) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const u = results.inProcess.unix_socket;
const rows = [
  ["in-process µs/auth", "pam_mapi", f(results.inProcess.pam_mapi), ""],
  ["(TCP, 127.0.0.1)", "pam_permit (PAM floor)", f(results.inProcess.pam_permit), ""],
  ["", "raw C client (physical limit)", f(results.inProcess.raw_client), ""],
  ["", "pam_raw.so (converse + raw trip)", f(results.inProcess.pam_raw_module), ""],
  ["", "(pam_mapi − permit) / raw", f(results.inProcess.ratio_mapi_minus_permit_over_raw, 2), "≤ 1.15"],
  ["", "(pam_raw.so − permit) / raw", f(results.inProcess.ratio_raw_module_minus_permit_over_raw, 2), ""],
  ["", "pam_mapi − pam_raw.so, µs", f(results.inProcess.pam_mapi_minus_raw_module_us), ""],
  ["in-process µs/auth", "pam_mapi", f(u.pam_mapi), ""],
  ["(unix socket)", "raw C client", f(u.raw_client), ""],
  ["", "pam_raw.so", f(u.pam_raw_module), ""],
  ["", "(pam_mapi − permit) / raw", f(u.ratio_mapi_minus_permit_over_raw, 2), ""],
  ["", "(pam_raw.so − permit) / raw", f(u.ratio_raw_module_minus_permit_over_raw, 2), ""],
  ["", "pam_mapi − pam_raw.so, µs", f(u.pam_mapi_minus_raw_module_us), ""],
  ["in-process µs/auth", "pam_mapi, full handshakes", f(results.https.pam_mapi_full), ""],
  ["(https, TLS 1.3)", "pam_mapi, resumed", f(results.https.pam_mapi_resumed), ""],
  ["", "raw TLS client, full", f(results.https.raw_tls_full), ""],
  ["", "raw TLS client, resumed", f(results.https.raw_tls_resumed), ""],
  ["", "(pam_mapi full − permit) / raw full", f(results.https.ratio_mapi_full_minus_permit_over_raw_full, 2), "≤ 1.10"],
  ["", "pam_mapi: resumed / full (− permit)", f(results.https.ratio_mapi_resumed_over_full, 2), "≤ 0.6"],
  ["", "raw: resumed / full", f(results.https.ratio_raw_resumed_over_full, 2), ""],
  ["client CPU µs/auth", "pam_mapi, full / resumed", `${f(results.https.cpu.pam_mapi_full, 0)} / ${f(results.https.cpu.pam_mapi_resumed, 0)}`, ""],
  ["(https)", "raw TLS client, full / resumed", `${f(results.https.cpu.raw_tls_full, 0)} / ${f(results.https.cpu.raw_tls_resumed, 0)}`, ""],
  ["", "pam_permit", f(results.https.cpu.pam_permit, 0), ""],
  ["", "(pam_mapi full − permit) / raw full", f(results.https.cpu.ratio_mapi_full_minus_permit_over_raw_full, 2), "≤ 1.10"],
  ["", "pam_mapi: resumed / full (− permit)", f(results.https.cpu.ratio_mapi_resumed_over_full, 2), "≤ 0.6"],
  ...(results.https.before ? [
    ["", "before: pam_mapi full", f(results.https.before.pam_mapi_full), ""],
    ["", "before: pam_mapi resumable", f(results.https.before.pam_mapi_resumed), ""],
    ["", "before: (full − permit) / raw full", f(results.https.before.ratio_full_minus_permit_over_raw_full, 2), ""],
    ["", "before: CPU µs full / resumable", `${f(results.https.before.cpu_full, 0)} / ${f(results.https.before.cpu_resumed, 0)}`, ""],
    ["", "before: CPU (full − permit) / raw full", f(results.https.before.cpu_ratio_full_minus_permit_over_raw_full, 2), ""],
  ] : []),
  ["guest alone µs/call", "authenticate", f(results.guest.authenticate, 2), "≤ 20"],
  ["", "PAM call: configure + authenticate", f(results.guest.pam_call_configure_and_authenticate, 2), ""],
  ["", "memory.grow per PAM call", String(results.guest.memory_grows_per_pam_call), "0"],
  ...[["saslauthd -n 2 auths/s", results.saslauthd], ["Apache -k -c 8 req/s", results.apache]].flatMap(([name, d]) => [
    [name, "pam_permit", f(d.pam_permit), ""],
    ["", "pam_mapi, TCP", f(d.pam_mapi), ""],
    ["", "ratio pam_mapi / permit, TCP", f(d.ratio, 2), "≥ 0.7"],
    ["", "ratio pam_raw.so / permit, TCP", f(d.ratio_raw_module, 2), ""],
    ["", "pam_mapi, unix socket", f(d.unix_socket.pam_mapi), ""],
    ["", "ratio pam_mapi / permit, unix", f(d.unix_socket.ratio, 2), "≥ 0.7"],
    ["", "ratio pam_raw.so / permit, unix", f(d.unix_socket.ratio_raw_module, 2), ""],
    ["", "pam_mapi, https (resuming)", f(d.https.pam_mapi), ""],
    ["", "ratio pam_mapi / permit, https", f(d.https.ratio, 2), ""],
  ]),
  ["memory KiB", "peak added by one auth", f(results.memory.peak_added_by_one_auth, 0), "≤ 1024"],
  ["", "still resident after pam_end", f(results.memory.retained_after_pam_end, 0), ""],
  ["", "of which private (RssAnon)", f(results.memory.private_anonymous_retained, 0), ""],
  ["", "https: peak added by first login", f(results.memory.https.peak_added_by_first_login, 0), "≤ 1024"],
  ["", "https: resident after pam_end", f(results.memory.https.retained_after_pam_end, 0), ""],
  ["", "https: of which private", f(results.memory.https.private_anonymous_retained, 0), ""],
  ...(results.memory.before_https ? [
    ["", "before, https: peak added", f(results.memory.before_https.peak_added_by_first_login, 0), ""],
    ["", "before, https: resident after", f(results.memory.before_https.retained_after_pam_end, 0), ""],
  ] : []),
  ["pam_mapi.so bytes", "unstripped / stripped", `${results.size.unstripped} / ${results.size.stripped}`, ""],
  ["failover ms/auth", "first server refuses", f(results.failover.refused, 2), ""],
  ["(timeout=0.5 s)", "first accepts, never answers", f(results.failover.silent, 0), ""],
  ["", "first drops SYNs (full backlog)", f(results.failover.drop, 0), ""],
  ...cliRows(results.cli),
];
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), 6));
const line = (r) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
console.log(line(["figure", "what", "median (min–max)", "target"]));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows) console.log(line(r));
writeFileSync(OUT, JSON.stringify(results, null, 2) + "\n");
console.log(`\n${quick ? "quick run; " : ""}${ROUNDS} rounds; written to ${path.relative(root, OUT)}`);
