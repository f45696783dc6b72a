// The native PAM module (native/, build/pam_mapi.so) through real libpam: symbol hygiene, the verdict/ trap/
// transport/config-file handling of the loader (with native/testguest/, a guest that misbehaves on request,
// built into build/test/pam_mapi_testguest.so by the same build), signal hygiene, valgrind and threads.
// Needs `npm run build` (build:guest, then build:native).
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, httpReply, startCannedServer, type CannedServer } from "./helpers/canned-server.js";
import {
  MODULE, PAM, TEST_MODULE, makeConfdir, moduleStack, removeConfdir, runPamdrive, runPamthreads, writeConfdir,
} from "./helpers/pam.js";
import { makeTestPki } from "./helpers/tls.js";
import { freePort as deadPort } from "./helpers/ports.js"; // free a moment ago: nothing listens there

const OK = capture("tcp-a-logon-ok-alice.resp.raw");
const WRONG = capture("tcp-b-logon-wrong-password.resp.raw");

let confdir: string;
let scratch: string;
beforeAll(() => {
  confdir = makeConfdir();
  scratch = mkdtempSync(path.join(os.tmpdir(), "native-test-"));
});
afterAll(() => {
  removeConfdir(confdir);
  rmSync(scratch, { recursive: true, force: true });
});

let serial = 0;
/** A fresh service in the shared confdir using `module` with `args`. */
function service(module: string, args: string[], extra: string[] = []): string {
  const name = `svc${++serial}`;
  writeConfdir(confdir, name, [...moduleStack(module, args), ...extra]);
  return name;
}

// PAM_IGNORE made visible (as in pam-policy.test.ts): `ignore=ignore` lets it fall through to pam_debug, which
// answers with a code nothing else produces; `success=done default=die` passes every other code through.
const IGNORED_AUTH = 15; // PAM_CRED_UNAVAIL from pam_debug
const IGNORED_ACCT = 12; // PAM_NEW_AUTHTOK_REQD from pam_debug
function ignoreVisible(module: string, args: string[]): string {
  const name = `svc${++serial}`;
  writeConfdir(confdir, name, [
    `auth [success=done ignore=ignore default=die] ${module} ${args.join(" ")}`.trim(),
    "auth required pam_debug.so auth=cred_unavail",
    `account [success=done ignore=ignore default=die] ${module}`,
    "account required pam_debug.so acct=new_authtok_reqd",
  ]);
  return name;
}

function symbols(file: string, which: "--defined-only" | "--undefined-only"): string[] {
  return execFileSync("nm", ["-D", which, file], { encoding: "utf8" })
    .split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/).pop()!.replace(/@.*/, ""));
}


describe("build/pam_mapi.so symbols", () => {
  for (const file of [MODULE, TEST_MODULE]) {
    it(`${path.basename(file)} exports exactly the pam_sm_* entry points`, () => {
      expect(symbols(file, "--defined-only").sort()).toEqual([
        "pam_sm_acct_mgmt", "pam_sm_authenticate", "pam_sm_chauthtok", "pam_sm_close_session",
        "pam_sm_open_session", "pam_sm_setcred",
      ]);
    });
    it(`${path.basename(file)} imports no signal handling, exit or mmap`, () => {
      const undefinedSyms = symbols(file, "--undefined-only");
      for (const bad of ["sigaction", "signal", "sigaltstack", "sigsetjmp", "siglongjmp", "alarm", "exit", "_exit", "mmap"])
        expect(undefinedSyms).not.toContain(bad);
      expect(undefinedSyms.filter((s) => s.startsWith("curl_"))).toEqual([]);
      expect(undefinedSyms).toContain("explicit_bzero");
      // OpenSSL is never linked: native/openssl_lib.c loads libssl on the first https use
      expect(undefinedSyms).toContain("dlopen");
      expect(undefinedSyms.filter((s) => /^(SSL|OSSL|OPENSSL|BIO|ERR|X509)_/.test(s))).toEqual([]);
    });
    it(`${path.basename(file)} links neither libcurl nor libssl; TLS goes through a fixed table of OpenSSL functions`, () => {
      const needed = execFileSync("readelf", ["-d", file], { encoding: "utf8" });
      expect(needed).not.toMatch(/NEEDED.*(libcurl|libssl|libcrypto)/);
      expect(execFileSync("ldd", [file], { encoding: "utf8" })).not.toMatch(/libcurl|libssl|libcrypto|libnghttp|libssh|libldap/);
      // the names it resolves (dlsym) are strings in the module: a library context of its own, host name checks,
      // and never a configuration file, the environment's CA variables, a key log, a client certificate or a
      // process-wide hook (native/tls.c)
      const strings = new Set(execFileSync("strings", ["-a", file], { encoding: "utf8" }).split("\n"));
      for (const used of ["libssl.so.3", "OSSL_LIB_CTX_new", "SSL_CTX_new_ex", "OPENSSL_init_ssl", "SSL_set1_host", "X509_VERIFY_PARAM_set1_ip_asc"])
        expect(strings).toContain(used);
      for (const bad of ["SSL_CTX_set_default_verify_paths", "SSL_CTX_set_default_verify_file", "SSL_CTX_set_default_verify_dir",
        "X509_STORE_set_default_paths", "SSL_CTX_set_keylog_callback", "CRYPTO_set_mem_functions", "OPENSSL_config",
        "CONF_modules_load_file", "OSSL_LIB_CTX_load_config", "OSSL_PROVIDER_load", "ENGINE_load_builtin_engines",
        "SSL_CTX_use_certificate", "SSL_CTX_use_certificate_file", "SSL_CTX_use_PrivateKey", "SSL_CTX_set_client_cert_cb",
        "getenv", "secure_getenv"])
        expect(strings).not.toContain(bad);
    });
  }
});

describe("real guest through the loader", () => {
  it("a configuration error is PAM_SERVICE_ERR", async () => {
    const r = await runPamdrive(confdir, service(MODULE, ["no_such_key=1"]), "alice", ["auth"], { input: ["pw"] });
    expect(r.code).toBe(PAM.SERVICE_ERR);
    expect(r.syslog.some((l) => l.priority === 3)).toBe(true);
  });
  it("no reachable server is PAM_AUTHINFO_UNAVAIL", async () => {
    const r = await runPamdrive(confdir, service(MODULE, [`socket=file://${scratch}/absent.sock`]), "alice", ["auth"],
      { input: ["pw"] });
    expect(r.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
  });
});

describe("loader with the test guest", () => {
  let server: CannedServer;
  beforeAll(async () => {
    // Answers like Kopano: logon ok for password "good", LOGON_FAILED otherwise (logoff requests get "ok").
    server = await startCannedServer({ unix: true, reply: (req) => (req.body.includes("<password>") && !req.body.includes("<password>good</password>") ? WRONG : OK) });
  });
  afterAll(() => server.close());

  it("success: auth, acct and setcred succeed; logon and logoff share one connection; headers as specified", async () => {
    const before = server.requests.length;
    const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${server.url}`]), "alice", ["auth", "acct", "setcred"], { input: ["good"] });
    expect(r.ops).toEqual({ auth: PAM.SUCCESS, acct: PAM.SUCCESS, setcred: PAM.SUCCESS });
    expect(r.code).toBe(0);
    const sent = server.requests.slice(before);
    expect(sent).toHaveLength(2);
    expect(sent[0].connection).toBe(sent[1].connection);
    const head = sent[0].head.toLowerCase();
    expect(head).toMatch(/^post \/ http\/1\.1\r\n/);
    expect(head).toContain("content-type: text/xml; charset=utf-8");
    expect(head).toContain("user-agent: pam_mapi/0.1");
    expect(head).not.toContain("expect:");
    expect(head).not.toContain("accept-encoding");
  });

  it("wrong password: PAM_AUTH_ERR, and acct_mgmt does not vouch (PAM_IGNORE: pam_debug answers)", async () => {
    const r = await runPamdrive(confdir, ignoreVisible(TEST_MODULE, [`socket=${server.url}`]), "alice", ["auth", "acct"], { input: ["bad"] });
    expect(r.results).toEqual([["auth", PAM.AUTH_ERR], ["acct", IGNORED_ACCT]]);
  });

  it("feature denied: PAM_AUTH_ERR, then acct_mgmt says PAM_PERM_DENIED", async () => {
    const svc = service(TEST_MODULE, [`socket=${server.url}`, "test=perm-denied"], ["account optional pam_permit.so"]);
    const r = await runPamdrive(confdir, svc, "alice", ["auth", "acct"], { input: ["good"] });
    expect(r.ops).toEqual({ auth: PAM.AUTH_ERR, acct: PAM.PERM_DENIED });
  });

  it("acct_mgmt alone (no authentication in this handle) is PAM_IGNORE; setcred still succeeds (it sets nothing)", async () => {
    const ignored = await runPamdrive(confdir, ignoreVisible(TEST_MODULE, [`socket=${server.url}`]), "alice", ["acct"], { input: [] });
    expect(ignored.results).toEqual([["acct", IGNORED_ACCT]]);
    const svc = service(TEST_MODULE, [`socket=${server.url}`], ["account optional pam_permit.so"]);
    const r = await runPamdrive(confdir, svc, "alice", ["acct", "setcred", "open", "close", "chauthtok"], { input: [] });
    expect(r.ops.acct).toBe(PAM.SUCCESS); // from pam_permit: ours ignored
    // The module is the only auth line: a PAM_IGNORE would have made libpam answer PAM_PERM_DENIED (sshd's parent).
    expect(r.ops.setcred).toBe(PAM.SUCCESS);
  });

  it("a failed second authentication in the same handle takes back the first one's success for acct_mgmt", async () => {
    const r = await runPamdrive(confdir, ignoreVisible(TEST_MODULE, [`socket=${server.url}`]), "alice", ["auth", "acct", "auth", "acct"], { input: ["good", "bad"] });
    expect(r.results).toEqual([["auth", PAM.SUCCESS], ["acct", PAM.SUCCESS], ["auth", PAM.AUTH_ERR], ["acct", IGNORED_ACCT]]);
  });

  it("TCP works as well as the unix socket", async () => {
    const tcp = await startCannedServer({ reply: OK });
    try {
      const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${tcp.url}`]), "alice", ["auth", "acct"], { input: ["good"] });
      expect(r.ops).toEqual({ auth: 0, acct: 0 });
      expect(tcp.requests).toHaveLength(2);
    } finally {
      await tcp.close();
    }
  });

  it("configuration error from the guest: PAM_SERVICE_ERR with the message logged", async () => {
    const r = await runPamdrive(confdir, service(TEST_MODULE, ["bogus"]), "alice", ["auth"], { input: ["pw"] });
    expect(r.code).toBe(PAM.SERVICE_ERR);
    expect(r.syslog).toContainEqual({ priority: 3, message: 'configuration error: unknown key "bogus"' });
  });

  it.each([
    ["ftp://127.0.0.1/"], ["http://user@127.0.0.1/"], ["http://127.0.0.1/?q=1"], ["file://relative/x.sock"],
    [`file:///${"x".repeat(120)}.sock`], ["http://127.0.0.1:99999/"], ["gopher://x/"],
  ])("server URL %s is refused by the host: PAM_SERVICE_ERR", async (url) => {
    const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${url}`]), "alice", ["auth"], { input: ["pw"] });
    expect(r.code).toBe(PAM.SERVICE_ERR);
    expect(r.syslog.some((l) => l.priority === 3 && l.message.startsWith("configuration error: server 1"))).toBe(true);
  });

  it("no server: a missing socket and a dead port are PAM_AUTHINFO_UNAVAIL, failing over in order", async () => {
    const port = await deadPort();
    const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=file://${scratch}/none.sock,http://127.0.0.1:${port}/`, "debug"]), "alice", ["auth"], { input: ["pw"] });
    expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
    const debug = r.syslog.filter((l) => l.priority === 7).map((l) => l.message);
    expect(debug.some((m) => m.startsWith(`server 1 (file://${scratch}/none.sock): refused`))).toBe(true);
    expect(debug.some((m) => m.startsWith(`server 2 (http://127.0.0.1:${port}/): refused`))).toBe(true);
    expect(r.syslog).toContainEqual({ priority: 4, message: "server 0: transport error 1" });
  });

  it("ignore_unavailable turns it into PAM_IGNORE (the guest's decision)", async () => {
    const svc = ignoreVisible(TEST_MODULE, [`socket=file://${scratch}/none.sock`, "ignore_unavailable"]);
    const r = await runPamdrive(confdir, svc, "alice", ["auth"], { input: ["pw"] });
    expect(r.results).toEqual([["auth", IGNORED_AUTH]]);
  });

  it("a server index outside the pinned list is no-such-server, not a connection", async () => {
    const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${server.url}`, "test=no-such-server"]), "alice", ["auth"], { input: ["pw"] });
    expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
    expect(r.syslog).toContainEqual({ priority: 4, message: "server 0: transport error 0" });
  });

  it.each([
    ["trap", "unreachable"], ["trap-configure", "unreachable"], ["stack", "call stack exhausted"],
    ["grow", "unreachable"], ["bad-code", "verdict code out of range"], ["bad-reason", "string out of bounds"],
    ["bad-ret", "return area out of bounds"], ["bad-log-level", "log: level out of range"],
    ["log-oob", "log: message out of bounds"], ["post-oob", "post: body out of bounds"],
    ["configure-oob", "server list out of bounds"], ["configure-flags", "unknown option flags"],
    ["configure-features-oob", "feature list out of bounds"], ["configure-features-bad", "unknown feature name"],
    ["configure-features-many", "feature count out of range"], ["configure-features-misaligned", "feature list out of bounds"],
    ["trap-after-post", "unreachable"],
    // post()'s return area and reply block, and every check of the settings and verdict records (guest_abi.c):
    // without the check the host writes outside guest memory (SIGSEGV) or hands on what it must refuse
    ["post-ret-oob", "post: return area out of bounds"], ["post-ret-misaligned", "post: return area out of bounds"],
    ["post-realloc-oob", "post: cabi_realloc returned a bad block"],
    ["long-user", "string too long"], ["control-user", "string holds control characters"],
    ["bad-utf8-user", "string is not valid UTF-8"],
    ["configure-bad-ret", "configure: return area out of bounds"],
    ["configure-misaligned-ret", "configure: return area out of bounds"], ["configure-bad-tag", "configure: bad result tag"],
    ["configure-no-servers", "configure: server count out of range"],
    ["configure-misaligned-list", "configure: server list out of bounds"],
    ["lower-realloc-oob", "cabi_realloc returned a misaligned or out-of-bounds block"],
    ["lower-realloc-misaligned", "cabi_realloc returned a misaligned or out-of-bounds block"],
  ])("guest misbehaviour %s is PAM_SERVICE_ERR with a log line, and the process carries on", async (test, detail) => {
    const svc = service(TEST_MODULE, [`socket=${server.url}`, `test=${test}`]);
    const r = await runPamdrive(confdir, svc, "alice", ["auth", "acct"], { input: ["good", "good"], repeat: 2 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(PAM.SERVICE_ERR);
    expect(r.results.filter(([op]) => op === "auth").map(([, c]) => c)).toEqual([PAM.SERVICE_ERR, PAM.SERVICE_ERR]);
    const errors = r.syslog.filter((l) => l.priority === 3).map((l) => l.message);
    expect(errors.some((m) => m.includes(detail) && m.endsWith("returning PAM_SERVICE_ERR"))).toBe(true);
  });

  it.each([
    ["a zero timeout", ["timeout_ms=0"]],
    ["a timeout over an hour", ["timeout_ms=3600001"]],
    ["17 servers", [`socket=${Array(17).fill("http://127.0.0.1:1/").join(",")}`]],
  ])("a settings record with %s is refused: PAM_SERVICE_ERR", async (_what, args) => {
    const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${server.url}`, ...args]), "alice", ["auth"], { input: ["good"] });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(PAM.SERVICE_ERR);
    const errors = r.syslog.filter((l) => l.priority === 3).map((l) => l.message);
    expect(errors.some((m) => /configure: (timeout|server count) out of range/.test(m)), errors.join("\n")).toBe(true);
  });

  it("the largest settings the host takes (a one-hour timeout, 16 servers) are used", async () => {
    const servers = Array(16).fill(server.url).join(",");
    const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${servers}`, "timeout_ms=3600000"]), "alice", ["auth"], { input: ["good"] });
    expect(r.ops.auth).toBe(PAM.SUCCESS);
  });

  it("guest log lines lose their control characters", async () => {
    const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${server.url}`, "test=control-log"]), "alice", ["auth"], { input: ["good"] });
    expect(r.ops.auth).toBe(0);
    expect(r.syslog).toContainEqual({ priority: 6, message: "line?with?[31mcontrol?characters" });
  });

  describe("transport", () => {
    const cases: Array<[string, string, Buffer]> = [
      ["HTTP 404", "http-status", httpReply(404, "<er>0</er>")],
      ["a gzip Content-Encoding", "malformed", httpReply(200, "<er>0</er>", { "Content-Encoding": "gzip" })],
      ["a reply over 1 MiB", "too-large", httpReply(200, "x".repeat(1024 * 1024 + 1))],
      ["a chunked reply over 1 MiB", "too-large", Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), ...Array.from({ length: 17 }, () => Buffer.from("10000\r\n" + "y".repeat(0x10000) + "\r\n")), Buffer.from("0\r\n\r\n")])],
      ["garbage", "malformed", Buffer.from("SSH-2.0-OpenSSH\r\n\r\n")],
    ];
    it.each(cases)("%s is a transport error (%s)", async (_what, name, reply) => {
      const s = await startCannedServer({ reply, closeAfterReply: true });
      try {
        const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${s.url}`, "debug"]), "alice", ["auth"], { input: ["good"] });
        expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
        expect(r.syslog.some((l) => l.priority === 7 && l.message.includes(`): ${name} after`))).toBe(true);
      } finally {
        await s.close();
      }
    });

    it("bytes after a Content-Length body are not part of the body", async () => {
      const body = OK.subarray(OK.indexOf("\r\n\r\n") + 4);
      const reply = Buffer.concat([httpReply(200, body), Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz")]);
      const s = await startCannedServer({ reply });
      try {
        const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${s.url}`]), "alice", ["auth"], { input: ["good"] });
        expect(r.ops.auth).toBe(0);
        expect(r.syslog).toContainEqual({ priority: 6, message: `server 0: HTTP 200, ${body.length} bytes` });
      } finally {
        await s.close();
      }
    });

    it("chunked replies and HTTP 500 bodies are delivered", async () => {
      const body = OK.subarray(OK.indexOf("\r\n\r\n") + 4);
      const chunked = Buffer.concat([Buffer.from("HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Buffer.from(`${(100).toString(16)}\r\n`), body.subarray(0, 100), Buffer.from(`\r\n${(body.length - 100).toString(16)}\r\n`), body.subarray(100), Buffer.from("\r\n0\r\n\r\n")]);
      const s = await startCannedServer({ reply: chunked });
      try {
        const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${s.url}`]), "alice", ["auth"], { input: ["good"] });
        expect(r.ops.auth).toBe(0);
        expect(r.syslog).toContainEqual({ priority: 6, message: `server 0: HTTP 500, ${body.length} bytes` });
      } finally {
        await s.close();
      }
    });

    it("the deadline covers the whole exchange", async () => {
      const s = await startCannedServer({ reply: OK, delayMs: 5000 });
      try {
        const t0 = Date.now();
        const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${s.url}`, "timeout_ms=300", "debug"]), "alice", ["auth"], { input: ["good"] });
        expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
        expect(Date.now() - t0).toBeLessThan(4000);
        expect(r.syslog.some((l) => l.message.includes("): timeout after"))).toBe(true);
      } finally {
        await s.close();
      }
    });

    it("proxy and CA variables in the environment change nothing; https verifies against cafile", async () => {
      const pki = makeTestPki(path.join(scratch, "pki"));
      const s = await startCannedServer({ reply: OK, tls: { key: readFileSync(pki.key, "utf8"), cert: readFileSync(pki.cert, "utf8") } });
      const env = { http_proxy: "http://127.0.0.1:9/", https_proxy: "http://127.0.0.1:9/", ALL_PROXY: "http://127.0.0.1:9/", SSL_CERT_FILE: pki.caFile, CURL_CA_BUNDLE: pki.caFile, SSL_CERT_DIR: pki.caDir };
      try {
        const trusted = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${s.url}`, `cafile=${pki.caFile}`]), "alice", ["auth"], { input: ["good"], env });
        expect(trusted.ops.auth).toBe(0);
        // Without cafile the system store applies, whatever SSL_CERT_FILE says: the test CA is not trusted.
        const untrusted = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${s.url}`, "debug"]), "alice", ["auth"], { input: ["good"], env });
        expect(untrusted.ops.auth).toBe(PAM.AUTHINFO_UNAVAIL);
        expect(untrusted.syslog.some((l) => l.message.includes("): tls after"))).toBe(true);
      } finally {
        await s.close();
      }
    });
  });

  describe("password sources", () => {
    it("try_first_pass uses the stored password, and prompts once more when it fails", async () => {
      const before = server.requests.length;
      const svc = `svc${++serial}`;
      writeConfdir(confdir, svc, [
        `auth optional ${TEST_MODULE} socket=${server.url}`,
        `auth required ${TEST_MODULE} socket=${server.url} try_first_pass`,
        `account required ${TEST_MODULE}`,
      ]);
      const r = await runPamdrive(confdir, svc, "alice", ["auth", "acct"], { input: ["bad", "good"] });
      expect(r.ops).toEqual({ auth: 0, acct: 0 });
      const passwords = server.requests.slice(before).map((q) => /<password>(.*)<\/password>/.exec(q.body.toString())?.[1]).filter(Boolean);
      expect(passwords).toEqual(["bad", "bad", "good"]);
    });

    it("use_first_pass never prompts: no stored password is PAM_AUTH_ERR", async () => {
      const before = server.requests.length;
      const r = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${server.url}`, "use_first_pass"]), "alice", ["auth"], { input: ["good"] });
      expect(r.ops.auth).toBe(PAM.AUTH_ERR);
      expect(server.requests.length).toBe(before);
    });
  });

  describe("configuration file", () => {
    function configFile(name: string, text: string, mode: number): string {
      const file = path.join(scratch, name);
      writeFileSync(file, text);
      chmodSync(file, mode);
      return file;
    }
    it("its bytes reach the guest (test=trap from the file traps)", async () => {
      const file = configFile("trap.conf", "# comment\ntest=trap\n", 0o600);
      const r = await runPamdrive(confdir, service(TEST_MODULE, [`config=${file}`, `socket=${server.url}`]), "alice", ["auth"], { input: ["good"] });
      expect(r.code).toBe(PAM.SERVICE_ERR);
    });
    it("an ordinary root-owned 0644 file is read", async () => {
      const file = configFile("ok.conf", `socket=${server.url}\n`, 0o644);
      const r = await runPamdrive(confdir, service(TEST_MODULE, [`config=${file}`]), "alice", ["auth"], { input: ["good"] });
      expect(r.ops.auth).toBe(0);
    });
    it.each([
      ["a group-writable", () => configFile("gw.conf", "debug\n", 0o664), "is writable by group or others"],
      ["a world-writable", () => configFile("ww.conf", "debug\n", 0o646), "is writable by group or others"],
      ["a file over 64 KiB:", () => configFile("big.conf", "#".repeat(64 * 1024 + 1), 0o600), "is larger than 65536 bytes"],
      ["a missing (named explicitly)", () => path.join(scratch, "missing.conf"), "cannot open"],
      ["a directory as", () => scratch, "is not a regular file"],
      ["another user's", () => { const f = configFile("nobody.conf", "debug\n", 0o644); chownSync(f, 65534, 65534); return f; }, "is not owned by root"],
    ])("%s file is refused: PAM_SERVICE_ERR", async (_what, make, why) => {
      const file = make();
      const r = await runPamdrive(confdir, service(TEST_MODULE, [`config=${file}`, `socket=${server.url}`]), "alice", ["auth"], { input: ["good"] });
      expect(r.code).toBe(PAM.SERVICE_ERR);
      expect(r.syslog.some((l) => l.priority === 3 && l.message.startsWith("configuration file:") && l.message.includes(why))).toBe(true);
    });
  });

  it("signal dispositions, the alternate stack and the mask are unchanged by calls that succeed or trap", async () => {
    for (const args of [[`socket=${server.url}`], [`socket=${server.url}`, "test=trap-after-post"], [`socket=${server.url}`, "test=stack"]]) {
      const r = await runPamdrive(confdir, service(TEST_MODULE, args), "alice", ["auth", "acct"], { input: ["good"], checkSignals: true, wrapper: false });
      expect(r.stdout).toContain("signals=unchanged");
      expect(r.code).not.toBe(100);
    }
  });

  it("valgrind: 20 authentications (and traps) in one process, no errors, nothing definitely lost", async () => {
    const valgrind = ["valgrind", "--leak-check=full", "--keep-debuginfo=yes", "--errors-for-leak-kinds=definite", "--error-exitcode=99"];
    const ok = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${server.url}`]), "alice", ["auth", "acct"],
      { input: Array(20).fill("good"), repeat: 20, prefix: valgrind, wrapper: false, timeoutMs: 240_000 });
    expect(ok.results.filter(([op, c]) => op === "auth" && c === 0)).toHaveLength(20);
    expect(ok.stderr).toContain("ERROR SUMMARY: 0 errors");
    expect(ok.stderr).toMatch(/definitely lost: 0 bytes|All heap blocks were freed/);
    expect(ok.code).toBe(0);
    const traps = await runPamdrive(confdir, service(TEST_MODULE, [`socket=${server.url}`, "test=trap-after-post"]), "alice", ["auth"],
      { input: Array(5).fill("good"), repeat: 5, prefix: valgrind, wrapper: false, timeoutMs: 240_000 });
    expect(traps.results.filter(([op, c]) => op === "auth" && c === PAM.SERVICE_ERR)).toHaveLength(5);
    expect(traps.stderr).toContain("ERROR SUMMARY: 0 errors");
    expect(traps.code).toBe(PAM.SERVICE_ERR);
  }, 300_000);

  it("8 threads: successes, wrong passwords and traps never mix", async () => {
    const ok = service(TEST_MODULE, [`socket=${server.url}`]);
    const r = await runPamthreads(confdir, ok, 8, 60, [["alice", "good", "0/0"], ["alice", "bad", "7"], ["bob", "good", "0/0"]]);
    expect(r.stdout).toContain("correct=480 wrong=0");
    expect(r.code).toBe(0);
    const mixed = `svc${++serial}`;
    writeConfdir(confdir, mixed, [
      `auth [success=done default=ignore] ${TEST_MODULE} socket=${server.url} test=trap`,
      `auth required ${TEST_MODULE} socket=${server.url}`,
      `account required ${TEST_MODULE}`,
    ]);
    const t = await runPamthreads(confdir, mixed, 8, 60, [["alice", "good", "0/0"], ["carol", "bad", "7"]]);
    expect(t.stdout).toContain("correct=480 wrong=0");
  }, 120_000);
});
