// `pam-mapi` end to end: bin/pam-mapi.mjs as a child process (built host, built guest) against the Kopano
// emulator over http, https (throwaway CA through cafile=) and a unix socket. Run `npm run build:guest &&
// npm run build:host` first.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { repoRoot } from "./helpers/guest.js";
import { makeTestPki } from "./helpers/tls.js";
import { readFileSync } from "node:fs";
import { freePort } from "./helpers/ports.js";
import { cliBin, readableCliBin, runCli, startCliEmulator, type CliEmulator } from "./helpers/cli.js";
import { runProcess, type Outcome } from "./helpers/process.js";

const bin = cliBin;
const version = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;

const tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-cli-"));
const pki = makeTestPki(path.join(tmp, "pki"));

interface Run extends Outcome { ms: number }
async function run(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = Date.now();
  const r = await runCli(args, input, env);
  return { ...r, ms: Date.now() - started };
}
/** A root-owned, 0644 configuration file (pam_mapi.so refuses others; the suite runs as root). */
function configFile(name: string, text: string, mode = 0o644): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

let emulator: CliEmulator;
let httpUrl = "";
let httpsUrl = "";
let unixUrl = "";
const empty = configFile("empty.conf", "");

beforeAll(async () => {
  emulator = await startCliEmulator(tmp, pki);
  ({ http: httpUrl, https: httpsUrl, unix: unixUrl } = emulator);
});
afterAll(async () => {
  await emulator?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("pam-mapi help, version and usage errors", () => {
  it("prints the version", async () => {
    const r = await run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`pam-mapi ${version}`);
  });

  it.each([["--help"], ["help"], ["check", "--help"], ["config", "--help"], ["emulate", "--help"], ["help", "check"]])(
    "pam-mapi %s %s prints help and exits 0", async (...args) => {
      const r = await run(args.filter(Boolean));
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: pam-mapi/);
      expect(r.stdout).toMatch(/[Ee]xit codes/);
    });

  it.each([
    [[], /Usage: pam-mapi COMMAND/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["--frobnicate"], /unknown option --frobnicate/],
    [["check"], /check needs a USER/],
    [["check", "alice", "bob"], /one USER/],
    [["check", "alice", "--bogus"], /Unknown option '--bogus'/],
    [["config", "extra"], /unexpected argument/],
    [["emulate", "--profile", "exchange"], /--profile exchange/],
    [["emulate", "--https", "127.0.0.1:0"], /--https needs --cert/],
    [["emulate", "--http", "nohostport"], /expected HOST:PORT/],
    [["help", "nothing"], /no command "nothing"/],
  ])("usage error %j exits 2 with a cause and a fix", async (args, message) => {
    const r = await run(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
    if ((args as string[]).length) expect(r.stderr).toMatch(/fix: see `pam-mapi/);
  });
});

describe("pam-mapi config", () => {
  it("prints the effective settings for the top level and every section", async () => {
    const file = configFile("sections.conf", [
      "socket = http://127.0.0.1:236/", "timeout = 5", "", "[imap]", "socket = https://mail.example.org:237/", "",
    ].join("\n"));
    const r = await run(["config", "--config", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`configuration: ${file}`);
    expect(r.stdout).toMatch(/top level[^\n]*\n[\s\S]*socket=\s+http:\/\/127\.0\.0\.1:236\/\n[\s\S]*timeout=\s+5 s/);
    expect(r.stdout).toMatch(/\[imap\][^\n]*\n\s+socket=\s+https:\/\/mail\.example\.org:237\//);
    expect(r.stdout).toContain("configuration is valid");
  });

  it("shows the effective service= per PAM service, in text and JSON", async () => {
    const file = configFile("service.conf", "socket = http://127.0.0.1:236/\n\n[smtp]\nservice = imap|pop3\n");
    const r = await run(["config", "--config", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/top level[^\n]*\n[\s\S]*service=\s+\(none: no feature check\)[\s\S]*\[smtp\]/);
    expect(r.stdout).toMatch(/\[smtp\][^\n]*\n[\s\S]*service=\s+imap\|pop3 \(the user needs at least one/);
    const doc = JSON.parse((await run(["config", "--config", file, "--json"])).stdout);
    expect(doc.services.map((s: { settings: { service: string[] } }) => s.settings.service)).toEqual([[], ["imap", "pop3"]]);
  });

  it("warns about a section that names no PAM service, with did-you-mean for a near miss", async () => {
    const pamDir = mkdtempSync(path.join(tmp, "pam.d-"));
    for (const name of ["smtp", "imap", "other"]) writeFileSync(path.join(pamDir, name), "");
    const file = configFile("typo.conf", "socket = http://127.0.0.1:236/\n[smpt]\nservice = imap|pop3\n[SMTP]\ntimeout = 5\n[webmail]\ndebug\n");
    const r = await run(["config", "--config", file, "--pam-dir", pamDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`warning: [smpt] names no PAM service: there is no ${pamDir}/smpt, so its keys apply to no login; did you mean [smtp]?`);
    expect(r.stdout).toMatch(/warning: \[webmail\] names no PAM service[^\n]*name the section after a file/);
    expect(r.stdout).not.toMatch(/warning: \[SMTP\]/); // sections match services ignoring ASCII case, as in the module
    expect(r.stdout).toContain("configuration is valid (2 warnings above)");
    const doc = JSON.parse((await run(["config", "--config", file, "--pam-dir", pamDir, "--json"])).stdout);
    expect(doc.warnings).toEqual([
      expect.objectContaining({ section: "smpt", didYouMean: "smtp" }),
      expect.objectContaining({ section: "webmail", didYouMean: null }),
    ]);
  });

  it("applies module arguments over the file", async () => {
    const file = configFile("over.conf", "socket = http://127.0.0.1:236/\n");
    const r = await run(["config", "--config", file, "--arg", "socket=file:///run/kopano/server.sock", "--service", "smtp"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PAM service smtp[\s\S]*socket=\s+file:\/\/\/run\/kopano\/server\.sock/);
  });

  it("names the line of a configuration error and exits 3", async () => {
    const file = configFile("bad.conf", "socket = http://127.0.0.1:236/\n\nno_such_key = 1\n");
    const r = await run(["config", "--config", file]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`error: configuration error: ${file}:3: unknown key 'no_such_key'`);
    expect(r.stdout).toMatch(/fix: +use one of the known keys/);
    expect(r.stdout).toContain("configuration has errors");
  });

  it("refuses a configuration file writable by others, as pam_mapi.so does (exit 3)", async () => {
    const file = configFile("writable.conf", "socket = http://127.0.0.1:236/\n", 0o666);
    const r = await run(["config", "--config", file]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/writable by group or others/);
    expect(r.stderr).toContain(`fix: chmod go-w ${file}`);
  });

  it("reports a missing explicit configuration file (exit 3)", async () => {
    const r = await run(["config", "--config", path.join(tmp, "absent.conf")]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no such file/);
  });
});

describe("pam-mapi check against the emulator", () => {
  const check = (user: string, password: string, ...args: string[]) =>
    run(["check", user, "--config", empty, "--password-stdin", ...args], `${password}\n`);

  it("accepts alice's password over http (exit 0) and explains each step", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${httpUrl}`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`server 1 ${httpUrl.replace(/[.]/g, "\\.")}: HTTP 200, connect [\\d.]+ ms`));
    expect(r.stdout).toMatch(/guest debug: /);
    expect(r.stdout).toMatch(/result: PAM_SUCCESS \(success\)/);
    expect(r.stdout).toMatch(/user:\s+alice/);
    expect(r.stdout).not.toContain("Secr3t!");
  });

  it("accepts over https with the throwaway CA as cafile=", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${httpsUrl}`, "--arg", `cafile=${pki.caFile}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/HTTP 200, connect [\d.]+ ms, TLSv1\.[23]/);
    expect(r.stdout).toMatch(/result: PAM_SUCCESS/);
  });

  it("accepts over https with capath=", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${httpsUrl}`, "--arg", `capath=${pki.caDir}`);
    expect(r.code).toBe(0);
  });

  it("accepts over the unix socket", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${unixUrl}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/result: PAM_SUCCESS/);
  });

  it("accepts a UTF-8 password (bob)", async () => {
    const r = await check("bob", "hunter2 ü", "--arg", `socket=${httpUrl}`);
    expect(r.code).toBe(0);
  });

  it("denies a wrong password (exit 1) with the cause", async () => {
    const r = await check("alice", "wrong", "--arg", `socket=${httpUrl}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/result: PAM_AUTH_ERR/);
    expect(r.stdout).toMatch(/cause:\s+wrong password, unknown user or inactive user/);
    expect(r.stdout).toMatch(/fix:\s+/);
  });

  it("lists in options: only what is configured (debug is forced on for the run, not shown as configured)", async () => {
    const plain = await check("alice", "Secr3t!", "--arg", `socket=${httpUrl}`);
    expect(plain.stdout).toMatch(/options:\s+\(none\)\n/);
    expect(plain.stdout).toMatch(/guest debug: /); // still explained in detail
    const configured = await check("alice", "Secr3t!", "--arg", `socket=${httpUrl}`, "--arg", "debug", "--arg", "quiet");
    expect(configured.stdout).toMatch(/options:\s+quiet debug\n/);
  });

  it("denies an unknown user (exit 1)", async () => {
    const r = await check("mallory", "Secr3t!", "--arg", `socket=${httpUrl}`);
    expect(r.code).toBe(1);
  });

  it("denies a user without the required feature and says how to enable it", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${httpUrl}`, "--arg", "service=imap");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/result: PAM_AUTH_ERR /); // as pam_sm_authenticate (test/agreement.test.ts)
    expect(r.stdout).toMatch(/the account step would return PAM_PERM_DENIED/);
    expect(r.stdout).toContain("kopano-admin -u alice --enable-feature imap");
  });

  it("reports a dead server as unavailable (exit 4) with a cause and a fix", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=http://127.0.0.1:${await freePort()}/`);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/server 1 http:\/\/127\.0\.0\.1:\d+\/: refused/);
    expect(r.stdout).toMatch(/result: PAM_AUTHINFO_UNAVAIL/);
    expect(r.stdout).toMatch(/server 1 \(http:[^\n]*\): connection refused \(ECONNREFUSED\)/);
    expect(r.stdout).toMatch(/fix:\s+nothing listens there: start kopano-server/);
  });

  it("fails over from a dead server to a live one", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=file://${tmp}/absent.sock,${httpUrl}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/server 1 file:\/\/[^\n]*: refused/);
    expect(r.stdout).toMatch(/server 2 http:[^\n]*: HTTP 200/);
  });

  it("reports an untrusted certificate as unavailable (exit 4) and points at cafile=", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${httpsUrl}`);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/: tls after/);
    expect(r.stdout).toMatch(/fix:\s+set cafile=/);
  });

  it("reports a configuration error (exit 3) before asking for the password", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${httpUrl}`, "--arg", "no_such_key=1");
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/result: PAM_SERVICE_ERR/);
    expect(r.stdout).toMatch(/cause:\s+configuration error: .*no_such_key/);
  });

  it("reports an unreadable cafile= as a configuration error (exit 3)", async () => {
    const r = await check("alice", "Secr3t!", "--arg", `socket=${httpsUrl}`, "--arg", `cafile=${tmp}/absent-ca.pem`);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/cause:\s+configuration error: cafile=\S+: no such file or directory \(ENOENT\)/);
  });

  it("shows progress on stderr while waiting on a slow server (--verbose)", async () => {
    const silent = net.createServer((s) => s.on("data", () => {}));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const r = await check("alice", "Secr3t!", "--arg", `socket=http://127.0.0.1:${port}/`, "--arg", "timeout=2", "--verbose");
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/still waiting for server 1 \(http:\/\/127\.0\.0\.1:\d+\/\)/);
      expect(r.stdout).toMatch(/: timeout after/);
      expect(r.ms).toBeLessThan(2000 * 1.1 + 3000);
    } finally {
      silent.close();
    }
  });
});

describe("password input", async () => {
  const { readPassword } = await import(path.join(repoRoot, "build/host/cli/password.js"));
  const { PassThrough } = await import("node:stream");
  const decode = (b: Uint8Array) => Buffer.from(b).toString("utf8");

  it("reads from the terminal in raw mode without echo, with backspace, and restores the mode", async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[], setRawMode(m: boolean) { this.modes.push(m); } });
    let shown = "";
    const stderr = { write: (t: string) => { shown += t; }, isTTY: true };
    const pending = readPassword(stdin, stderr, "Password for alice: ", false);
    const typed = [Buffer.from("Secr3t"), Buffer.from("x\x7f"), Buffer.from("!\r")];
    for (const chunk of typed) stdin.write(chunk);
    const password = await pending;
    expect(decode(password)).toBe("Secr3t!");
    expect(shown).toBe("Password for alice: \n");
    expect(stdin.modes).toEqual([true, false]);
    for (const chunk of typed) expect([...chunk].every((b) => b === 0)).toBe(true);
  });

  it("treats Ctrl-C at the prompt as an interruption", async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode() {} });
    const pending = readPassword(stdin, { write() {} }, "Password: ", false);
    stdin.write(Buffer.from("abc\x03"));
    await expect(pending).rejects.toThrow(/interrupted/);
  });

  it("takes the first line of stdin as bytes, UTF-8 intact, ending at the LF only (a CR stays, as in pam_mapi.so)", async () => {
    const stdin = new PassThrough();
    const pending = readPassword(stdin, { write() {} }, "", true);
    stdin.end(Buffer.from("hunter2 ü\r\nsecond line\n"));
    expect(decode(await pending)).toBe("hunter2 ü\r");
  });

  it("reads a password without a trailing newline up to end of input", async () => {
    const stdin = new PassThrough();
    const pending = readPassword(stdin, { write() {} }, "", true);
    stdin.end("Secr3t!");
    expect(decode(await pending)).toBe("Secr3t!");
  });
});

describe("pam-mapi emulate", () => {
  it("serves the demo users on the URLs it prints and stops cleanly on SIGTERM", async () => {
    const socket = path.join(tmp, "emulate.sock");
    const child = spawn(process.execPath, [bin, "emulate", "--http", "127.0.0.1:0", "--unix", socket], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    const urls = await new Promise<string[]>((resolve, reject) => {
      child.stdout.on("data", (c) => {
        stdout += c;
        if (stdout.includes("stop with Ctrl-C")) resolve([...stdout.matchAll(/^listening: (\S+)$/gm)].map((m) => m[1]));
      });
      child.on("exit", (code) => reject(new Error(`emulate exited with ${code}: ${stdout}`)));
    });
    expect(urls).toEqual([expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/), `file://${socket}`]);
    for (const url of urls) {
      const r = await run(["check", "alice", "--config", empty, "--password-stdin", "--arg", `socket=${url}`], "Secr3t!\n");
      expect(r.code).toBe(0);
    }
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toContain("emulator stopped");
  });
});

describe("pam-mapi emulate --unix: only a stale socket is replaced; www-data can connect", () => {
  /** Starts `pam-mapi emulate ARGS`; resolves with its banner once it is up, or its exit code and output. */
  function startEmulate(args: string[]) {
    const child = spawn(process.execPath, [bin, "emulate", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const ready = new Promise<{ up: boolean; stdout: string; stderr: string; code: number | null }>((resolve) => {
      child.stdout.on("data", (c) => {
        stdout += c;
        if (stdout.includes("stop with Ctrl-C")) resolve({ up: true, stdout, stderr, code: null });
      });
      child.on("exit", (code) => resolve({ up: false, stdout, stderr, code }));
    });
    const stop = async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.on("exit", r));
      child.kill("SIGTERM");
      return exited;
    };
    return { ready, stop };
  }
  const shared = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-emulate-"));
  chmodSync(shared, 0o755);
  afterAll(() => rmSync(shared, { recursive: true, force: true }));

  it("refuses a regular file and leaves it alone", async () => {
    const file = path.join(shared, "precious.txt");
    writeFileSync(file, "not a socket\n");
    const e = startEmulate(["--unix", file]);
    const r = await e.ready;
    expect(r).toMatchObject({ up: false, code: 3 });
    expect(r.stderr).toContain(`${file}: is a regular file; the emulator replaces nothing but a stale socket`);
    expect(r.stderr).toMatch(/fix: choose another --unix path/);
    expect(readFileSync(file, "utf8")).toBe("not a socket\n");
  });

  it("refuses a directory", async () => {
    const dir = mkdtempSync(path.join(shared, "dir-"));
    const r = await startEmulate(["--unix", dir]).ready;
    expect(r).toMatchObject({ up: false, code: 3 });
    expect(r.stderr).toContain(`${dir}: is a directory`);
  });

  it("refuses a socket a live server accepts on, and that server keeps serving", async () => {
    const live = path.join(shared, "live.sock");
    const server = net.createServer((s) => { s.on("error", () => {}); s.end("still me\n"); });
    await new Promise<void>((resolve) => server.listen(live, resolve));
    try {
      const r = await startEmulate(["--unix", live]).ready;
      expect(r).toMatchObject({ up: false, code: 3 });
      expect(r.stderr).toContain(`${live}: is a live socket`);
      expect(r.stderr).toMatch(/fix: stop that server first/);
      const answer = await new Promise<string>((resolve, reject) => {
        let got = "";
        net.connect(live).on("data", (d) => (got += d)).on("end", () => resolve(got)).on("error", reject);
      });
      expect(answer).toBe("still me\n");
    } finally {
      server.close();
    }
  });

  it("replaces a stale socket, lists its users and their features, and www-data can log in through it", async () => {
    const stale = path.join(shared, "stale.sock");
    // bound, never listening, its process gone: what a crashed server leaves behind
    execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", stale]);
    const e = startEmulate(["--unix", stale]);
    try {
      const r = await e.ready;
      expect(r.up).toBe(true);
      expect(r.stdout).toContain(`listening: file://${stale}`);
      expect(r.stdout).toContain("alice: features enabled mobile outlook webapp; disabled imap pop3");
      expect(r.stdout).toContain("bob: features enabled imap mobile outlook pop3 webapp; disabled none");
      expect(r.stdout).toContain("carol (inactive)");
      expect(r.stdout).not.toContain("Secr3t!");
      expect(r.stdout).not.toMatch(/warning: other users/);
      // The Apache recipe's www-data: a check through the socket as that user, configuration readable by it.
      const conf = path.join(shared, "www.conf");
      writeFileSync(conf, `socket = file://${stale}\n`, { mode: 0o644 });
      // (the installed layout, which www-data can reach wherever the checkout sits)
      const asWww = await runProcess("setpriv", ["--reuid=www-data", "--regid=www-data", "--clear-groups", process.execPath, readableCliBin(),
        "check", "alice", "--config", conf, "--password-stdin"], { env: { PATH: process.env.PATH } }, "Secr3t!\n");
      expect(asWww.stdout).toMatch(/result: PAM_SUCCESS/);
      expect(asWww.code).toBe(0);
    } finally {
      expect(await e.stop()).toBe(0);
    }
  });

  it("warns when a directory on the way keeps other users out", async () => {
    const closed = mkdtempSync(path.join(shared, "closed-"));
    chmodSync(closed, 0o700);
    const e = startEmulate(["--unix", path.join(closed, "server.sock")]);
    try {
      const r = await e.ready;
      expect(r.up).toBe(true);
      expect(r.stdout).toContain(`warning: other users (www-data) cannot reach ${closed}/server.sock: ${closed} has mode 0700; fix: chmod o+x ${closed}`);
    } finally {
      await e.stop();
    }
  });
});

describe("pam-mapi --json", () => {
  const checkJson = (user: string, password: string, ...args: string[]) =>
    run(["check", user, "--config", empty, "--password-stdin", "--json", ...args], `${password}\n`);

  it("check: one JSON document with the settings, each server, the verdict, cause and fix — never the password", async () => {
    const r = await checkJson("alice", "Secr3t!", "--arg", `socket=${httpUrl}`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      format: 1, command: "check", user: "alice", service: "login",
      configuration: { path: empty, present: false },
      settings: { servers: [httpUrl], timeoutSeconds: 10, trust: "system store" },
      result: { pam: "PAM_SUCCESS", code: "success", user: "alice" },
      exitCode: 0, fix: null,
    });
    expect(doc.servers).toEqual([expect.objectContaining({ server: 0, url: httpUrl, status: 200 })]);
    expect(doc.log.some((l: { level: string }) => l.level === "debug")).toBe(true);
    expect(r.stdout).not.toContain("Secr3t!");
  });

  it("check: a denial and an unavailable server carry the same exit codes, with cause and fix", async () => {
    const denied = await checkJson("alice", "wrong", "--arg", `socket=${httpUrl}`);
    expect(denied.code).toBe(1);
    expect(JSON.parse(denied.stdout)).toMatchObject({ result: { pam: "PAM_AUTH_ERR" }, exitCode: 1, cause: expect.stringMatching(/wrong password/), fix: expect.any(String) });
    const dead = await checkJson("alice", "Secr3t!", "--arg", `socket=http://127.0.0.1:${await freePort()}/`);
    expect(dead.code).toBe(4);
    const doc = JSON.parse(dead.stdout);
    expect(doc).toMatchObject({ result: { pam: "PAM_AUTHINFO_UNAVAIL" }, exitCode: 4, fix: expect.stringMatching(/kopano-server/) });
    expect(doc.servers[0]).toMatchObject({ error: "refused" });
  });

  it("check: configuration errors are JSON too, before any password is read", async () => {
    const r = await run(["check", "alice", "--json", "--arg", "no_such_key=1", "--config", empty]);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ settings: null, result: { pam: "PAM_SERVICE_ERR" }, cause: expect.stringMatching(/no_such_key/), exitCode: 3 });
    const writable = configFile("json-writable.conf", "timeout = 5\n", 0o666);
    const w = await run(["check", "alice", "--json", "--config", writable]);
    expect(w.code).toBe(3);
    expect(JSON.parse(w.stdout)).toMatchObject({ cause: expect.stringMatching(/writable by group or others/), fix: `chmod go-w ${writable}` });
  });

  it("config: every service's settings, or the error that names its line", async () => {
    const file = configFile("json-sections.conf", "socket = http://127.0.0.1:236/\n\n[smtp]\ntimeout = 3\n");
    const r = await run(["config", "--config", file, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ command: "config", configuration: { path: file, present: true }, valid: true, exitCode: 0 });
    expect(doc.services).toEqual([
      expect.objectContaining({ section: null, valid: true, settings: expect.objectContaining({ servers: ["http://127.0.0.1:236/"], timeoutSeconds: 10 }) }),
      expect.objectContaining({ section: "smtp", valid: true, settings: expect.objectContaining({ timeoutSeconds: 3 }), cause: null }),
    ]);
    const bad = configFile("json-bad.conf", "socket = http://127.0.0.1:236/\n\n[imap]\ntimeout = soon\n");
    const b = await run(["config", "--config", bad, "--json"]);
    expect(b.code).toBe(3);
    const badDoc = JSON.parse(b.stdout);
    expect(badDoc).toMatchObject({ valid: false, exitCode: 3 });
    for (const service of badDoc.services) {
      expect(service).toMatchObject({ valid: false, settings: null, cause: `configuration error: ${bad}:4: timeout: 'soon' is not a number of seconds from 0.1 to 300 with at most 3 decimals (e.g. timeout=10)`,
        fix: "write timeout=SECONDS, from 0.1 to 300, e.g. timeout=10" });
    }
  });
});

describe("pam-mapi colour", async () => {
  const { main } = await import(path.join(repoRoot, "build/host/cli/main.js"));
  const { PassThrough } = await import("node:stream");
  async function report(env: NodeJS.ProcessEnv, isTTY: boolean): Promise<string> {
    let text = "";
    const stdout = { write: (t: string) => { text += t; }, isTTY };
    const stderr = { write: () => {}, isTTY: false };
    const file = configFile("colour.conf", "timeout = soon\n");
    await main(["config", "--config", file], { stdin: new PassThrough(), stdout, stderr, env });
    return text;
  }

  it("colours the verdict on a terminal", async () => {
    expect(await report({}, true)).toContain("\u001b[31mconfiguration has errors\u001b[0m");
  });

  it("never in a pipe, with NO_COLOR, or on a dumb terminal", async () => {
    for (const [env, tty] of [[{}, false], [{ NO_COLOR: "1" }, true], [{ TERM: "dumb" }, true]] as const) {
      const text = await report(env, tty);
      expect(text).toContain("configuration has errors");
      expect(text).not.toContain("\u001b[");
    }
  });
});
