// The secrets discipline, measured:
//  1. no log a run produces holds a password used in it: pam_wrapper's syslog lines (debug on), saslauthd's
//     output, Apache's error and access logs, the pam-mapi CLI's output (text and --json);
//  2. no heap block freed by the module still holds the password: test/secrets/freescan.c, an LD_PRELOAD test
//     library, scans every block at free() (and the old block of a moving realloc) in the unchanged production
//     build/pam_mapi.so — that covers the guest's linear memory (wiped whole before it is freed) and the host's
//     password copies — and names the library that freed it: none, over http, https (OpenSSL) and the unix socket;
//  3. the caller's environment (proxy variables, CA variables, HOME/.curlrc) changes nothing.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../host/emulator/index.js";
import { repoRoot } from "./helpers/guest.js";
import { PAM_WRAPPER_LIB, sharedTempDir, startApache, startSaslauthd, stopAll, writePamServiceDir, httpStatus,
  type Apache, type Saslauthd } from "./helpers/daemons.js";
import { MODULE, PAM, TEST_MODULE, makeConfdir, moduleStack, removeConfdir, runPamdrive, runPamthreads, writeConfdir } from "./helpers/pam.js";
import { makeTestPki, type TestPki } from "./helpers/tls.js";

// Distinctive passwords: any hit in a log or a freed block is one of these, not a coincidence.
const GOOD = "W1pe-Check-Passw0rd-7f3a";
const WRONG = "Wr0ng-Guess-Passw0rd-c91e";
const users = JSON.parse(readFileSync(path.join(repoRoot, "host/emulator/demo-users.json"), "utf8"));
users.users.find((u: { name: string }) => u.name === "alice").password = GOOD;

let dir: string;
let confdir: string;
let pki: TestPki;
let emulator: Emulator;
let shim: string;
let emptyConfig: string; // ours: the default /etc/security/pam_mapi.conf may belong to another test
const urls: Record<string, string> = {};

beforeAll(async () => {
  dir = sharedTempDir("pam-mapi-secrets-");
  confdir = makeConfdir();
  emptyConfig = path.join(dir, "pam_mapi.conf");
  writeFileSync(emptyConfig, "", { mode: 0o644 });
  pki = makeTestPki(path.join(dir, "pki"));
  emulator = await startEmulator({
    users,
    listen: [
      { http: {} },
      { https: { key: readFileSync(pki.key), cert: readFileSync(pki.cert) } },
      { unix: { path: path.join(dir, "kopano.sock"), mode: 0o666 } },
    ],
  });
  for (const u of emulator.urls) urls[u.split(":")[0]] = u;
  shim = path.join(dir, "freescan.so");
  execFileSync("gcc", ["-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", shim, path.join(repoRoot, "test/secrets/freescan.c"), "-ldl"]);
});
afterAll(async () => {
  await emulator?.close();
  removeConfdir(confdir);
  rmSync(dir, { recursive: true, force: true });
});

let serial = 0;
function service(args: string[]): string {
  const name = `secrets${++serial}`;
  writeConfdir(confdir, name, [`auth required ${MODULE} ${args.join(" ")}`, `account required ${MODULE} config=${emptyConfig}`]);
  return name;
}

/** The module's runs we look at: every outcome, every transport, the feature check (getUser + logoff). */
const RUNS: Array<[string, string[], string, number]> = [
  ["success over http", [`socket=${"http"}`], GOOD, PAM.SUCCESS],
  ["wrong password over http", [`socket=${"http"}`], WRONG, PAM.AUTH_ERR],
  ["success over https", [`socket=${"https"}`, "cafile"], GOOD, PAM.SUCCESS],
  ["wrong password over https", [`socket=${"https"}`, "cafile"], WRONG, PAM.AUTH_ERR],
  ["success over the unix socket", [`socket=${"file"}`], GOOD, PAM.SUCCESS],
  ["feature check (getUser, logoff)", [`socket=${"http"}`, "service=webapp"], GOOD, PAM.SUCCESS],
  ["feature denied", [`socket=${"http"}`, "service=imap"], GOOD, PAM.AUTH_ERR],
  ["no server", ["socket=http://127.0.0.1:1/"], GOOD, PAM.AUTHINFO_UNAVAIL],
];
function moduleArgs(spec: string[]): string[] {
  return spec.map((a) => (a.startsWith("socket=") && urls[a.slice(7)] ? `socket=${urls[a.slice(7)]}` : a === "cafile" ? `cafile=${pki.caFile}` : a))
    .concat(["debug", "timeout=5", `config=${emptyConfig}`]);
}

describe("no password in any log", () => {
  it("pam_wrapper's syslog lines and the caller's output, with debug on, for every outcome", async () => {
    for (const [name, spec, password, code] of RUNS) {
      const r = await runPamdrive(confdir, service(moduleArgs(spec)), "alice", ["auth", "acct"], { input: [password] });
      expect(r.ops.auth, name).toBe(code);
      expect(r.syslog.length, name).toBeGreaterThan(0);
      for (const text of [r.stdout, r.stderr]) {
        expect(text).not.toContain(GOOD);
        expect(text).not.toContain(WRONG);
      }
    }
  });

  it("the pam-mapi CLI's report and JSON, success and failure", async () => {
    for (const [password, json] of [[GOOD, false], [WRONG, false], [GOOD, true], [WRONG, true]] as const) {
      const out = await new Promise<string>((resolve) => {
        const child = spawn(process.execPath, [path.join(repoRoot, "bin/pam-mapi.mjs"), "check", "alice", "--password-stdin",
          "--arg", `socket=${urls.http}`, "--arg", "debug", "--verbose", ...(json ? ["--json"] : [])], { stdio: ["pipe", "pipe", "pipe"] });
        let s = "";
        child.stdout.on("data", (d) => (s += d));
        child.stderr.on("data", (d) => (s += d));
        child.on("close", () => resolve(s));
        child.stdin.end(password + "\n");
      });
      expect(out.length).toBeGreaterThan(0);
      expect(out).not.toContain(GOOD);
      expect(out).not.toContain(WRONG);
    }
  });

  describe("inside the daemons", () => {
    let saslauthd: Saslauthd;
    let apache: Apache;
    beforeAll(async () => {
      if (process.getuid?.() !== 0) throw new Error("the daemon tests must run as root");
      const serviceDir = writePamServiceDir(path.join(dir, "pam.d"), {
        "mapi-http": `auth required ${MODULE} ${moduleArgs(["socket=http"]).join(" ")}\naccount required ${MODULE} config=${emptyConfig}`,
        "mapi-feature": `auth required ${MODULE} ${moduleArgs(["socket=http", "service=imap"]).join(" ")}\naccount required ${MODULE} config=${emptyConfig}`,
      });
      saslauthd = await startSaslauthd({ serviceDir });
      apache = await startApache({ serviceDir, pamService: "mapi-http", mpm: "worker" });
    }, 60_000);
    afterAll(async () => {
      await stopAll(() => apache?.stop(), () => saslauthd?.stop());
    });

    it("saslauthd's output and Apache's error and access logs", async () => {
      expect(await saslauthd.auth("alice", GOOD, "mapi-http")).toBe("OK");
      expect(await saslauthd.auth("alice", WRONG, "mapi-http")).toMatch(/^NO/);
      expect(await saslauthd.auth("alice", GOOD, "mapi-feature")).toMatch(/^NO/);
      const status = await httpStatus(`${apache.url}/private/secret.txt`, { user: "alice", password: GOOD });
      expect(status, apache.errorLog()).toBe(200);
      expect(await httpStatus(`${apache.url}/private/secret.txt`, { user: "alice", password: WRONG })).toBe(401);
      const logs = { saslauthd: saslauthd.log(), apacheError: apache.errorLog(), apacheAccess: apache.accessLog() };
      // the module's lines (through pam_wrapper) are there: we are looking at the right logs
      expect(logs.saslauthd).toContain("logon er=KCERR_LOGON_FAILED");
      expect(logs.apacheError).toContain("logon er=KCERR_LOGON_FAILED");
      for (const [name, text] of Object.entries(logs)) {
        expect(text, name).not.toContain(GOOD);
        expect(text, name).not.toContain(WRONG);
      }
    }, 60_000);
  });
});

describe("no freed heap block holds the password (LD_PRELOAD scanner over the production module)", () => {
  async function scan(needle: string, runs = RUNS) {
    const report = path.join(dir, `freescan-${++serial}.txt`);
    writeFileSync(report, "");
    chmodSync(report, 0o666);
    for (const [name, spec, password, code] of runs) {
      // through env(1): the helper sets LD_PRELOAD to pam_wrapper alone, env adds the scanner for pamdrive itself
      const r = await runPamdrive(confdir, service(moduleArgs(spec)), "alice", ["auth", "acct"], {
        input: [password],
        prefix: ["env", `LD_PRELOAD=${PAM_WRAPPER_LIB} ${shim}`, `FREESCAN_NEEDLE=${needle}`, `FREESCAN_REPORT=${report}`],
      });
      expect(r.ops.auth, `${name}: exit ${r.code} signal ${r.signal}\n${r.stderr.slice(-2000)}`).toBe(code);
    }
    return readFileSync(report, "utf8").split("\n").filter(Boolean);
  }

  it("the scanner sees the module's frees (control: the user name, which is not a secret, is found)", async () => {
    const lines = await scan("alice", RUNS.slice(0, 1));
    expect(lines.some((l) => l.includes("/pam_mapi.so "))).toBe(true);
  });

  it("no block freed by pam_mapi.so (guest memory, host copies, request bodies) holds the password", async () => {
    const lines = [...await scan(GOOD), ...await scan(WRONG, RUNS.slice(1, 2))];
    const byModule = lines.filter((l) => l.includes("/pam_mapi.so "));
    expect(byModule).toEqual([]);
    // https too: OpenSSL (libssl, libcrypto) encrypts the request in its own buffers and frees no plaintext copy
    const others = summarise(lines);
    console.log(`freescan: blocks freed with the password by other libraries: ${JSON.stringify(others)}`);
    expect(others).toEqual({});
  }, 120_000);

  // Each thread keeps its last guest memory, wiped, for its next login (native/wasm_rt.c), and frees it when the
  // thread ends: run logins in threads that end, and look at those blocks too.
  it("the guest memory a thread keeps between logins is wiped: freed at thread exit, it holds no password", async () => {
    const report = path.join(dir, `freescan-${++serial}.txt`);
    writeFileSync(report, "");
    const name = service(moduleArgs([`socket=${"file"}`]));
    const threads = 4;
    const r = await runPamthreads(confdir, name, threads, 5, [["alice", GOOD, "0"], ["alice", WRONG, "7"]], {
      prefix: ["env", `LD_PRELOAD=${shim}`, `FREESCAN_NEEDLE=${GOOD}`, `FREESCAN_REPORT=${report}`, "FREESCAN_SIZE_AT_LEAST=131072"],
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(report, "utf8").split("\n").filter(Boolean);
    // One 128 KiB block per thread (plus malloc's header). The destructor's free is a tail call, so the scanner
    // may name libc's thread-exit code as the caller rather than pam_mapi.so.
    const kept = lines.filter((l) => l.startsWith("freed ") && Number(l.split(" ")[2]) >= 131072);
    expect(kept.length, lines.join("\n")).toBeGreaterThanOrEqual(threads);
    expect(lines.filter((l) => l.startsWith("freed-with-secret"))).toEqual([]);
  }, 60_000);

  // The guest's memory grows while it holds the password (the test guest's test=grow-after-password: the real
  // guest's logins fit its first pages): the old block, kept for the thread's next login or freed, is wiped first.
  // Threads that end, so the kept block is freed (and scanned) too.
  it("guest memory that grows during a login is wiped before it is kept or freed", async () => {
    const report = path.join(dir, `freescan-${++serial}.txt`);
    writeFileSync(report, "");
    const name = `secrets${++serial}`;
    writeConfdir(confdir, name, [`auth required ${TEST_MODULE} socket=file://${dir}/none.sock test=grow-after-password`]);
    const r = await runPamthreads(confdir, name, 2, 3, [["alice", GOOD, "9"]], {
      prefix: ["env", `LD_PRELOAD=${shim}`, `FREESCAN_NEEDLE=${GOOD}`, `FREESCAN_REPORT=${report}`, "FREESCAN_SIZE_AT_LEAST=131072"],
    });
    expect(r.stdout + r.stderr).toContain("correct=6 wrong=0");
    const lines = readFileSync(report, "utf8").split("\n").filter(Boolean);
    // the memory did grow past 1 MiB, and the first 128 KiB blocks were freed (by the threads' ends) and scanned
    expect(lines.some((l) => l.startsWith("freed ") && Number(l.split(" ")[2]) > 1 << 20), lines.join("\n")).toBe(true);
    expect(lines.filter((l) => l.startsWith("freed ") && Number(l.split(" ")[2]) < 1 << 20).length, lines.join("\n")).toBeGreaterThanOrEqual(2);
    expect(lines.filter((l) => l.startsWith("freed-with-secret"))).toEqual([]);
  }, 60_000);

  it("over http, https and the unix socket no freed block of any library holds the password", async () => {
    const lines = [...await scan(GOOD), ...await scan(WRONG)];
    expect(summarise(lines)).toEqual({});
  }, 120_000);

  it("over https with resumed sessions (three logins in one process) no freed block of any library holds the password", async () => {
    const report = path.join(dir, `freescan-${++serial}.txt`);
    writeFileSync(report, "");
    const r = await runPamdrive(confdir, service(moduleArgs([`socket=${"https"}`, "cafile"])), "alice", ["auth"], {
      input: [GOOD, GOOD, GOOD], repeat: 3,
      prefix: ["env", `LD_PRELOAD=${PAM_WRAPPER_LIB} ${shim}`, `FREESCAN_NEEDLE=${GOOD}`, `FREESCAN_REPORT=${report}`],
    });
    expect(r.code, r.stderr.slice(-2000)).toBe(0); // every round succeeded
    expect(r.syslog.filter((l) => l.message.endsWith("session resumed")).length).toBeGreaterThanOrEqual(1);
    expect(summarise(readFileSync(report, "utf8").split("\n").filter(Boolean))).toEqual({});
  }, 60_000);

  // The reply is not the password, but it is the session's plain text (session id, the user's features): libssl
  // decrypts each record in its read buffer, and without SSL_OP_CLEANSE_PLAINTEXT (native/tls.c) it frees that
  // buffer, and leaves consumed records, as they are.
  it("over https no block libssl or libcrypto frees holds the server's reply in plain text (SSL_OP_CLEANSE_PLAINTEXT)", async () => {
    const report = path.join(dir, `freescan-${++serial}.txt`);
    writeFileSync(report, "");
    // in the logon reply only (the request and the log lines never hold it), the last reply on the connection
    const needle = "lpszVersion";
    const r = await runPamdrive(confdir, service(moduleArgs([`socket=${"https"}`, "cafile"])), "alice", ["auth"], {
      input: [GOOD, GOOD], repeat: 2,
      prefix: ["env", `LD_PRELOAD=${PAM_WRAPPER_LIB} ${shim}`, `FREESCAN_NEEDLE=${needle}`, `FREESCAN_REPORT=${report}`],
    });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const openssl = summarise(readFileSync(report, "utf8").split("\n").filter((l) => l.startsWith("freed-with-secret")));
    expect({ libssl: openssl["libssl.so.3"] ?? 0, libcrypto: openssl["libcrypto.so.3"] ?? 0 }).toEqual({ libssl: 0, libcrypto: 0 });
  }, 60_000);

  it("the scanner sees OpenSSL's frees over https (control: every block libssl and libcrypto free is looked at)", async () => {
    const report = path.join(dir, `freescan-${++serial}.txt`);
    writeFileSync(report, "");
    const r = await runPamdrive(confdir, service(moduleArgs([`socket=${"https"}`, "cafile"])), "alice", ["auth"], {
      input: [GOOD],
      prefix: ["env", `LD_PRELOAD=${PAM_WRAPPER_LIB} ${shim}`, `FREESCAN_NEEDLE=${GOOD}`, `FREESCAN_REPORT=${report}`, "FREESCAN_SIZE_AT_LEAST=1"],
    });
    expect(r.ops.auth).toBe(PAM.SUCCESS);
    const libs = summarise(readFileSync(report, "utf8").split("\n").filter((l) => l.startsWith("freed ")));
    expect(libs["libssl.so.3"]).toBeGreaterThan(0);
    expect(libs["libcrypto.so.3"]).toBeGreaterThan(0);
  }, 60_000);
});

// The prompted passwords: the try_first_pass retry (prompt_password) and the password change (ask_secret) take
// the conversation's answers, which pam_mapi.so frees itself.
describe("no freed heap block holds a prompted password", () => {
  async function scanStack(needle: string, lines: string[], op: string, input: string[], expected: number) {
    const report = path.join(dir, `freescan-${++serial}.txt`);
    writeFileSync(report, "");
    chmodSync(report, 0o666);
    const name = `secrets${++serial}`;
    writeConfdir(confdir, name, lines);
    const r = await runPamdrive(confdir, name, "alice", [op], {
      input,
      prefix: ["env", `LD_PRELOAD=${PAM_WRAPPER_LIB} ${shim}`, `FREESCAN_NEEDLE=${needle}`, `FREESCAN_REPORT=${report}`],
    });
    expect(r.ops[op], `exit ${r.code} signal ${r.signal}\n${r.stderr.slice(-2000)}`).toBe(expected);
    return readFileSync(report, "utf8").split("\n").filter(Boolean);
  }
  const mod = () => `${MODULE} ${moduleArgs(["socket=http"]).join(" ")}`;

  it("try_first_pass: the stored password fails, the one asked for again is wiped before it is freed", async () => {
    const lines = await scanStack(GOOD, [`auth optional ${mod()}`, `auth required ${mod()} try_first_pass`], "auth", [WRONG, GOOD], PAM.SUCCESS);
    expect(summarise(lines)).toEqual({});
  });

  it("chauthtok: the current and the new password (asked for by the module) are wiped before they are freed", async () => {
    const NEW = "N3w-Secret-Passw0rd-5d2b";
    // GOOD -> NEW, looking for NEW (the new password, asked twice), then back, looking for NEW again (now the current one)
    const there = await scanStack(NEW, [`password required ${mod()}`], "chauthtok", [GOOD, NEW, NEW], PAM.SUCCESS);
    const back = await scanStack(NEW, [`password required ${mod()}`], "chauthtok", [NEW, GOOD, GOOD], PAM.SUCCESS);
    expect(summarise([...there, ...back])).toEqual({});
  }, 60_000);
});

function summarise(lines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) {
    const lib = path.basename(l.split(" ")[1]);
    out[lib] = (out[lib] ?? 0) + 1;
  }
  return out;
}

describe("the caller's environment changes nothing", () => {
  it("proxy, CA and curl variables and HOME/.curlrc: same verdicts, same single connection to the configured server", async () => {
    const home = path.join(dir, "home");
    mkdirSync(home, { recursive: true });
    // a .curlrc that would send everything through a proxy and trust nothing if libcurl read it (the tool does, the
    // library does not)
    writeFileSync(path.join(home, ".curlrc"), "proxy = http://127.0.0.1:9/\ncacert = /nonexistent\ninsecure\n");
    const hostile = {
      http_proxy: "http://127.0.0.1:9/", https_proxy: "http://127.0.0.1:9/", HTTP_PROXY: "http://127.0.0.1:9/",
      HTTPS_PROXY: "http://127.0.0.1:9/", ALL_PROXY: "socks5://127.0.0.1:9/", all_proxy: "socks5://127.0.0.1:9/",
      NO_PROXY: "example.org", no_proxy: "example.org", SSL_CERT_FILE: "/nonexistent/ca.pem", SSL_CERT_DIR: "/nonexistent",
      CURL_CA_BUNDLE: "/nonexistent/ca.pem", CURL_HOME: home, HOME: home, OPENSSL_CONF: "/nonexistent/openssl.cnf",
    };
    for (const [name, spec, password, code] of RUNS) {
      const before = emulator.requests.length;
      const r = await runPamdrive(confdir, service(moduleArgs(spec)), "alice", ["auth"], { input: [password], env: hostile });
      expect(r.ops.auth, name).toBe(code);
      if (code !== PAM.AUTHINFO_UNAVAIL) expect(emulator.requests.length - before, name).toBeGreaterThan(0);
    }
    // and the reverse: with the test CA named only by SSL_CERT_FILE/CURL_CA_BUNDLE, https is not trusted
    const r = await runPamdrive(confdir, service([`socket=${urls.https}`, "debug", "timeout=5", `config=${emptyConfig}`]), "alice", ["auth"], {
      input: [GOOD], env: { SSL_CERT_FILE: pki.caFile, CURL_CA_BUNDLE: pki.caFile, SSL_CERT_DIR: pki.caDir },
    });
    expect(r.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
  }, 120_000);

  it("OpenSSL's variables: no configuration or provider loaded, no key log written, no CA of theirs trusted", async () => {
    // A provider whose loading leaves a mark (its constructor runs at dlopen, its init when OpenSSL activates it),
    // named by an OpenSSL configuration file, by OPENSSL_MODULES and OPENSSL_ENGINES.
    const evilDir = path.join(dir, "evil");
    mkdirSync(evilDir, { recursive: true });
    const mark = path.join(evilDir, "provider-loaded");
    const src = path.join(evilDir, "evil.c");
    writeFileSync(src, `#include <fcntl.h>
#include <unistd.h>
static void leave_mark(void) { int fd = open("${mark}", O_WRONLY | O_CREAT | O_APPEND, 0644); if (fd >= 0) close(fd); }
__attribute__((constructor)) static void on_load(void) { leave_mark(); }
int OSSL_provider_init(const void *handle, const void *in, const void **out, void **ctx) {
  (void)handle; (void)in; (void)out; (void)ctx; leave_mark(); return 0; }
`);
    const evil = path.join(evilDir, "evil.so");
    execFileSync("gcc", ["-shared", "-fPIC", "-o", evil, src]);
    const cnf = path.join(evilDir, "openssl.cnf");
    writeFileSync(cnf, `openssl_conf = init\n[init]\nproviders = provs\nssl_conf = ssl\n[provs]\nevil = evil_sect\ndefault = default_sect\n` +
      `[evil_sect]\nmodule = ${evil}\nactivate = 1\n[default_sect]\nactivate = 1\n[ssl]\nsystem_default = sys\n[sys]\nMinProtocol = TLSv1\nCipherString = ALL:@SECLEVEL=0\n`);
    // control: the same configuration does load the provider into a program that reads it
    execFileSync("openssl", ["list", "-providers"], { env: { ...process.env, OPENSSL_CONF: cnf }, stdio: "ignore" });
    expect(readFileSync(mark, "utf8")).toBe("");
    rmSync(mark);

    const keylog = path.join(evilDir, "keylog.txt");
    const hostile = { OPENSSL_CONF: cnf, OPENSSL_MODULES: evilDir, OPENSSL_ENGINES: evilDir, SSLKEYLOGFILE: keylog,
      SSL_CERT_FILE: pki.caFile, SSL_CERT_DIR: pki.caDir };
    const good = await runPamdrive(confdir, service(moduleArgs([`socket=${"https"}`, "cafile"])), "alice", ["auth"], { input: [GOOD], env: hostile });
    expect(good.ops.auth).toBe(PAM.SUCCESS);
    const wrong = await runPamdrive(confdir, service(moduleArgs([`socket=${"https"}`, "cafile"])), "alice", ["auth"], { input: [WRONG], env: hostile });
    expect(wrong.ops.auth).toBe(PAM.AUTH_ERR);
    // the test CA, named only by SSL_CERT_FILE/SSL_CERT_DIR, signed the server's certificate: not trusted
    const rogue = await runPamdrive(confdir, service(moduleArgs([`socket=${"https"}`])), "alice", ["auth"], { input: [GOOD], env: hostile });
    expect(rogue.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
    expect(rogue.syslog.some((l) => l.message.includes("TLS: unable to get local issuer certificate"))).toBe(true);
    expect(() => readFileSync(mark)).toThrow();
    expect(() => readFileSync(keylog)).toThrow();
  }, 120_000);
});
