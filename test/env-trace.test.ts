// Which environment variables are read while PAM runs pam_mapi: the LD_PRELOAD tracer native/tools/envtrace.c
// records every getenv/secure_getenv-family read made during a PAM call (pam_start_confdir .. pam_end), with the
// object that made it. Run over http://, https:// and the unix socket, in a plain run (pamdrive as root, tracer
// through LD_PRELOAD) and a setuid run (a setuid-root copy of pamdrive started by nobody, AT_SECURE set, tracer
// through a private /etc/ld.so.preload in a mount namespace, since ld.so ignores LD_PRELOAD there). The caller's
// environment carries the hostile variables of test/hostile-environment.test.ts, so "set" in the list means the
// reader got the attacker's value. The list must be exactly the allow-list below; docs/security.md explains each
// entry. Needs root, gcc and `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator } from "../host/emulator/index.js";
import { sharedTempDir, stopAll } from "./helpers/daemons.js";
import { MODULE, PAMDRIVE, repoRoot } from "./helpers/pam.js";
import { makeTestPki, type TestPki } from "./helpers/tls.js";

const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
const TRACER_SOURCE = path.join(repoRoot, "native/tools/envtrace.c");
const SERVICE = "envtrace";

type Transport = "http" | "https" | "unix";
type Mode = "plain" | "setuid";
const TRANSPORTS: Transport[] = ["http", "https", "unix"];
const MODES: Mode[] = ["plain", "setuid"];

// Reads that may remain, "CALL FUNCTION NAME OBJECT" (set/unset is printed but not part of the key), each with
// its reason (docs/security.md, "Environment variables read during a login"). Empty today for every transport
// and mode: the module and the libraries it loads read nothing from the environment while PAM runs.
const ALLOWED: Record<string, string> = {};

// The caller's environment: every variable a TLS, HTTP or proxy library could act on, set to something.
const HOSTILE: Record<string, string> = {
  SSLKEYLOGFILE: "/nonexistent/keylog", OPENSSL_CONF: "/nonexistent/openssl.cnf", OPENSSL_MODULES: "/nonexistent",
  OPENSSL_ENGINES: "/nonexistent", SSL_CERT_FILE: "/nonexistent/ca.pem", SSL_CERT_DIR: "/nonexistent",
  CURL_CA_BUNDLE: "/nonexistent/ca.pem", http_proxy: "http://127.0.0.1:9/", https_proxy: "http://127.0.0.1:9/",
  HTTPS_PROXY: "http://127.0.0.1:9/", ALL_PROXY: "http://127.0.0.1:9/", all_proxy: "http://127.0.0.1:9/",
  no_proxy: "nothing.invalid", NO_PROXY: "nothing.invalid", HOME: "/nonexistent", RES_OPTIONS: "ndots:15",
  LOCALDOMAIN: "attacker.invalid", HOSTALIASES: "/nonexistent/aliases", OPENSSL_ia32cap: "~0", TZ: "/nonexistent/tz",
};

let dir: string;
let pki: TestPki;
let emulator: Emulator;
let tracer: string;
let setuidPamdrive: string;
const urls = {} as Record<Transport, string>;
const stops: Array<() => Promise<unknown> | unknown> = [];

interface Trace { atSecure: number | null; reads: string[]; ops: string; code: number | null }

function parse(stderr: string, stdout: string, code: number | null): Trace {
  // every process started in the namespace loads the tracer (setpriv, env, pamdrive): pamdrive's line is the last
  const secure = [...stderr.matchAll(/^envtrace: at_secure=(\d+)$/gm)].pop();
  const reads = [...stderr.matchAll(/^envtrace: read (\S+) (\S+) (\S+) (set|unset) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]} ${m[4]} ${m[5]}`);
  return { atSecure: secure ? Number(secure[1]) : null, reads, ops: stdout.trim().split("\n").filter((l) => /^[a-z]+=-?\d+$/.test(l)).join(" "), code };
}

function run(argv: string[], env: Record<string, string>, input: string): Promise<Trace> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve(parse(stderr, stdout, code));
    });
    child.stdin.end(input);
  });
}

/** One login with the right password through pamdrive, traced. */
function tracedLogin(mode: Mode, confdir: string): Promise<Trace> {
  const ops = [confdir, SERVICE, "alice", "auth", "acct"];
  if (mode === "plain") return run([PAMDRIVE, ...ops], { ...HOSTILE, PATH: "/usr/bin:/bin", LD_PRELOAD: tracer }, "Secr3t!\n");
  // /etc/ld.so.preload exists only inside the namespace: an overlay on /etc whose upper layer holds it.
  const upper = path.join(dir, "etc-upper");
  const script = [
    "set -e",
    `mount -t overlay overlay -o lowerdir=/etc,upperdir='${upper}',workdir='${path.join(dir, "etc-work")}' /etc`,
    'exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"',
  ].join("\n");
  const env = Object.entries({ ...HOSTILE, PATH: "/usr/bin:/bin", LD_PRELOAD: tracer }).map(([k, v]) => `${k}=${v}`);
  return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", "/usr/bin/env", "-i", ...env, setuidPamdrive, ...ops],
    { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, "Secr3t!\n");
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the tracer test makes a setuid-root program and mounts in a namespace: run as root");
  dir = sharedTempDir("pam-mapi-envtrace-");
  pki = makeTestPki(path.join(dir, "pki"));
  emulator = await startEmulator({
    users, listen: [{ http: {} }, { https: { key: readFileSync(pki.key), cert: readFileSync(pki.cert) } },
      { unix: { path: path.join(dir, "kopano.sock"), mode: 0o666 } }],
  });
  stops.push(() => emulator.close());
  [urls.http, urls.https, urls.unix] = emulator.urls;

  tracer = path.join(dir, "envtrace.so");
  execFileSync("gcc", ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", tracer, TRACER_SOURCE, "-ldl"]);
  chmodSync(tracer, 0o755);
  setuidPamdrive = path.join(dir, "pamdrive-setuid");
  copyFileSync(PAMDRIVE, setuidPamdrive);
  chmodSync(setuidPamdrive, 0o4755);
  mkdirSync(path.join(dir, "etc-upper"), { mode: 0o755 });
  mkdirSync(path.join(dir, "etc-work"), { mode: 0o700 });
  writeFileSync(path.join(dir, "etc-upper", "ld.so.preload"), `${tracer}\n`, { mode: 0o644 });
});

afterAll(async () => {
  await stopAll(...stops.reverse(), () => dir && rmSync(dir, { recursive: true, force: true }));
});

describe.each(MODES)("a %s run", (mode) => {
  it.each(TRANSPORTS)("over %s: the reads made during the PAM calls are exactly the allow-list", async (transport) => {
    const confdir = path.join(dir, `conf-${mode}-${transport}`);
    mkdirSync(confdir, { mode: 0o755 });
    const config = path.join(confdir, "pam_mapi.conf");
    writeFileSync(config, `socket = ${urls[transport]}\ntimeout = 5\n${transport === "https" ? `cafile = ${pki.caFile}\n` : ""}`, { mode: 0o600 });
    writeFileSync(path.join(confdir, SERVICE), `auth required ${MODULE} config=${config}\naccount required ${MODULE} config=${config}\n`);
    writeFileSync(path.join(confdir, "other"), ["auth", "account", "password", "session"].map((t) => `${t} required pam_deny.so\n`).join(""));

    const before = emulator.requests.length;
    const trace = await tracedLogin(mode, confdir);
    console.log(`envtrace ${mode} ${transport} (at_secure=${trace.atSecure}):\n  ${trace.reads.join("\n  ") || "(no reads)"}`);
    expect(trace.atSecure).toBe(mode === "setuid" ? 1 : 0);
    expect(trace.ops).toBe("auth=0 acct=0"); // the login really went through the module and the server
    expect(emulator.requests.slice(before).some((r) => r.operation === "logon" && r.listener === transport)).toBe(true);
    const unexplained = trace.reads.filter((read) => !(read.replace(/ (set|unset) /, " ") in ALLOWED));
    expect(unexplained).toEqual([]);
  });
});
