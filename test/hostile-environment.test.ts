// The caller's environment and umask are an attacker's: `su` and `sudo` are setuid and run PAM with both. Every
// row below sets variables that a TLS or HTTP library could act on, runs su (as nobody) and sudo (as the user)
// against pam_mapi with umask 000, and checks that nothing was created, loaded, trusted or connected to because of
// them, and that the verdicts are those of a clean environment: the right password still gets through, a wrong
// one is still refused, and a rogue https server whose certificate an attacker's CA signed is refused exactly as
// it is without the variable. The bait is checked to work outside a setuid program first, so a row cannot pass
// because its bait was dead. Uses test/helpers/setuid.ts (private mount namespaces; nothing on the machine changes).
// Needs root, sudo, gcc, the openssl CLI (scripts/setup.sh) and `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator } from "../host/emulator/index.js";
import { freePort, sharedTempDir, stopAll } from "./helpers/daemons.js";
import { MODULE, repoRoot } from "./helpers/pam.js";
import { makeTestPki, type TestPki } from "./helpers/tls.js";
import { makeSetuidWorld, moduleLines, NOBODY, type Caller, type SessionResult, type SetuidWorld } from "./helpers/setuid.js";

const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
const ALICE = { user: "alice", password: "Secr3t!" };
const BAIT_SOURCE = path.join(repoRoot, "test/fixtures/setuid/loaded-marker.c");

type Transport = "http" | "https" | "unix";
const ALL: Transport[] = ["http", "https", "unix"];
const TCP: Transport[] = ["http", "https"];

let dir: string;
let world: SetuidWorld;
let pki: TestPki;           // the genuine server's
let attacker: TestPki;      // the attacker's CA, and a certificate for localhost it signed
let genuine: Emulator;
let rogue: Emulator;
let proxyPort: number;
let proxyConnections = 0;
const genuineUrl = {} as Record<Transport, string>;
const stops: Array<() => Promise<unknown> | unknown> = [];
const p = (...parts: string[]) => path.join(dir, ...parts);

// Paths the rows name (all under dir; see beforeAll).
const bait = {
  rootOnlyKeylog: () => p("root-only", "keylog"),
  callerKeylog: () => p("caller", "keylog"),
  markers: () => p("markers"),
};

interface Row {
  name: string;
  env: () => Record<string, string>;
  transports: Transport[];
  /** "genuine": verdicts as with a clean environment; "rogue": a rogue https server, refused as without the row */
  server: "genuine" | "rogue";
  /** config lines beyond socket/timeout (rogue rows: with or without the administrator's cafile=) */
  config?: () => string;
}

const proxy = () => `http://127.0.0.1:${proxyPort}/`;
const ROWS: Row[] = [
  { name: "umask 000 alone", env: () => ({}), transports: ALL, server: "genuine" },
  { name: "SSLKEYLOGFILE in a root-only directory", env: () => ({ SSLKEYLOGFILE: bait.rootOnlyKeylog() }), transports: ALL, server: "genuine" },
  { name: "SSLKEYLOGFILE in the caller's own directory", env: () => ({ SSLKEYLOGFILE: bait.callerKeylog() }), transports: ALL, server: "genuine" },
  { name: "OPENSSL_CONF loading a provider", env: () => ({ OPENSSL_CONF: p("bait", "provider.cnf") }), transports: ALL, server: "genuine" },
  { name: "OPENSSL_CONF loading an engine", env: () => ({ OPENSSL_CONF: p("bait", "engine.cnf") }), transports: ALL, server: "genuine" },
  {
    name: "OPENSSL_MODULES (with an OPENSSL_CONF activating the provider it holds)",
    env: () => ({ OPENSSL_MODULES: p("bait", "modules"), OPENSSL_CONF: p("bait", "modules.cnf") }), transports: ALL, server: "genuine",
  },
  {
    name: "OPENSSL_ENGINES (with an OPENSSL_CONF initialising the engine it holds)",
    env: () => ({ OPENSSL_ENGINES: p("bait", "engines"), OPENSSL_CONF: p("bait", "engines.cnf") }), transports: ALL, server: "genuine",
  },
  ...["http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"].map((name): Row => (
    { name: `${name} naming a recorder`, env: () => ({ [name]: proxy() }), transports: TCP, server: "genuine" })),
  {
    name: "every proxy variable at once, no_proxy and NO_PROXY matching nothing",
    env: () => ({ http_proxy: proxy(), HTTP_PROXY: proxy(), https_proxy: proxy(), HTTPS_PROXY: proxy(), ALL_PROXY: proxy(),
      all_proxy: proxy(), no_proxy: "nothing.invalid", NO_PROXY: "nothing.invalid" }),
    transports: TCP, server: "genuine",
  },
  { name: "HOME with a .curlrc (proxy, insecure, the attacker's CA)", env: () => ({ HOME: p("caller"), CURL_HOME: p("caller") }), transports: ALL, server: "genuine" },
  // Read by libcrypto at load (docs/security.md): it may choose among OpenSSL's implementations, never the verdict.
  { name: "OPENSSL_ia32cap masking AES-NI and PCLMULQDQ", env: () => ({ OPENSSL_ia32cap: "~0x200000200000000" }), transports: ALL, server: "genuine" },
  { name: "SSL_CERT_FILE naming the attacker's CA, genuine server", env: () => ({ SSL_CERT_FILE: attacker.caFile }), transports: ["https"], server: "genuine" },
  // A rogue server (right host name, certificate from the attacker's CA): with the system store and with cafile=.
  ...(["system store", "cafile="] as const).flatMap((trust): Row[] => {
    const config = () => (trust === "cafile=" ? `cafile = ${pki.caFile}\n` : "");
    return [
      { name: `rogue server, ${trust}, no variable (the reference)`, env: () => ({}), transports: ["https"], server: "rogue", config },
      { name: `rogue server, ${trust}, SSL_CERT_FILE = attacker's CA`, env: () => ({ SSL_CERT_FILE: attacker.caFile }), transports: ["https"], server: "rogue", config },
      { name: `rogue server, ${trust}, SSL_CERT_DIR = attacker's CA directory`, env: () => ({ SSL_CERT_DIR: attacker.caDir }), transports: ["https"], server: "rogue", config },
      { name: `rogue server, ${trust}, CURL_CA_BUNDLE = attacker's CA`, env: () => ({ CURL_CA_BUNDLE: attacker.caFile }), transports: ["https"], server: "rogue", config },
      {
        name: `rogue server, ${trust}, all CA variables and HOME/.curlrc at once`,
        env: () => ({ SSL_CERT_FILE: attacker.caFile, SSL_CERT_DIR: attacker.caDir, CURL_CA_BUNDLE: attacker.caFile, HOME: p("caller") }),
        transports: ["https"], server: "rogue", config,
      },
    ];
  }),
];

interface Program {
  name: string;
  service: string;
  caller(user: string): Caller;
  argv(user: string): string[];
  ranAs: string;
  transports(row: Row): Transport[];
}
const PROGRAMS: Program[] = [
  { name: "su", service: "su-l", caller: () => NOBODY, argv: (u) => ["/usr/bin/su", "-", u, "-c", "echo ran-as-$(id -un)"], ranAs: "ran-as-alice", transports: (row) => row.transports },
  // In sudo's process secure_getenv sees the caller's whole environment (env_reset only cleans the command's), but
  // a plain getenv resolves to sudo's own (exported by /usr/bin/sudo for its plugins' environment hooks), which
  // answers from sudoers' environment handling. https carries the libraries that read; su covers the rest.
  { name: "sudo", service: "sudo", caller: (u) => world.account(u), argv: () => ["/usr/bin/sudo", "-u", "root", "/bin/sh", "-c", "echo ran-as-$(id -un)"], ranAs: "ran-as-root", transports: (row) => row.transports.filter((t) => t === "https") },
];

/** Every file under the directories an attacker's variables point at, to see that a run created nothing. */
function filesUnder(...roots: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      out.push(full);
      if (entry.isDirectory()) walk(full);
    }
  };
  for (const r of roots) walk(r);
  return out.sort();
}
/** Every file under the directories the rows point at, with owner and mode (a created file is the finding). */
const watched = () => filesUnder(p("root-only"), p("caller"), p("markers")).map((f) => {
  const st = statSync(f);
  return `${f} uid=${st.uid} mode=${(st.mode & 0o7777).toString(8)}`;
});
/** Remove what a row's runs created, so that the next row starts from the same state. */
function removeCreated(before: string[]) {
  for (const entry of watched()) if (!before.includes(entry)) rmSync(entry.replace(/ uid=.*$/, ""), { recursive: true, force: true });
}

function buildBait() {
  mkdirSync(p("bait", "modules"), { recursive: true });
  mkdirSync(p("bait", "engines"), { recursive: true });
  const build = (out: string, marker: string) =>
    execFileSync("gcc", ["-shared", "-fPIC", "-O2", `-DMARKER="${p("markers", marker)}"`, "-o", out, BAIT_SOURCE]);
  build(p("bait", "provider.so"), "provider-loaded");
  build(p("bait", "engine.so"), "engine-loaded");
  build(p("bait", "modules", "legacy.so"), "modules-dir-provider-loaded");
  build(p("bait", "engines", "evil.so"), "engines-dir-engine-loaded");
  build(p("bait", "engines", "libevil.so"), "engines-dir-engine-loaded");
  const conf = (providers: string, engines: string) =>
    `openssl_conf = openssl_init\n[openssl_init]\n${providers ? "providers = provider_sect\n" : ""}${engines ? "engines = engine_sect\n" : ""}${providers}${engines}`;
  writeFileSync(p("bait", "provider.cnf"), conf(`[provider_sect]\nevil = evil_sect\ndefault = default_sect\n[evil_sect]\nmodule = ${p("bait", "provider.so")}\nactivate = 1\n[default_sect]\nactivate = 1\n`, ""));
  writeFileSync(p("bait", "modules.cnf"), conf("[provider_sect]\nlegacy = legacy_sect\ndefault = default_sect\n[legacy_sect]\nactivate = 1\n[default_sect]\nactivate = 1\n", ""));
  writeFileSync(p("bait", "engine.cnf"), conf("", `[engine_sect]\nevil = evil_sect\n[evil_sect]\ndynamic_path = ${p("bait", "engine.so")}\ninit = 1\n`));
  writeFileSync(p("bait", "engines.cnf"), conf("", "[engine_sect]\nevil = evil_sect\n[evil_sect]\ninit = 1\n"));
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the hostile-environment tests run su and sudo in mount namespaces and must run as root");
  dir = sharedTempDir("pam-mapi-hostile-env-");
  pki = makeTestPki(p("pki"));
  attacker = makeTestPki(p("attacker-pki"));
  mkdirSync(p("root-only"), { mode: 0o700 });
  mkdirSync(p("caller"), { mode: 0o755 });
  chownSync(p("caller"), NOBODY.uid, NOBODY.gid);
  mkdirSync(p("markers"), { mode: 0o755 });
  buildBait();

  const recorder = net.createServer((s) => {
    proxyConnections++;
    s.destroy();
  });
  proxyPort = await freePort();
  await new Promise<void>((resolve) => recorder.listen({ host: "127.0.0.1", port: proxyPort }, resolve));
  stops.push(() => new Promise<void>((resolve) => recorder.close(() => resolve())));
  writeFileSync(p("caller", ".curlrc"), `proxy = ${proxy()}\ninsecure\ncacert = ${attacker.caFile}\n`);
  chownSync(p("caller", ".curlrc"), NOBODY.uid, NOBODY.gid);

  genuine = await startEmulator({
    users, listen: [{ http: {} }, { https: { key: readFileSync(pki.key), cert: readFileSync(pki.cert) } },
      { unix: { path: p("kopano.sock"), mode: 0o666 } }],
  });
  stops.push(() => genuine.close());
  [genuineUrl.http, genuineUrl.https, genuineUrl.unix] = genuine.urls;
  rogue = await startEmulator({ users, listen: [{ https: { key: readFileSync(attacker.key), cert: readFileSync(attacker.cert) } }] });
  stops.push(() => rogue.close());

  world = makeSetuidWorld({ module: MODULE, accounts: [{ name: "alice", uid: 61001 }] });
  stops.push(() => world.close());
});

afterAll(async () => {
  await stopAll(...stops.reverse(), () => dir && rmSync(dir, { recursive: true, force: true }));
});

describe("the bait works outside a setuid program", () => {
  const openssl = (env: Record<string, string>, args: string[]) =>
    spawnSync("openssl", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, input: "", encoding: "utf8", timeout: 20_000 });
  const markerAfter = (marker: string, action: () => void) => {
    rmSync(p("markers", marker), { force: true });
    action();
    const made = existsSync(p("markers", marker));
    rmSync(p("markers", marker), { force: true });
    return made;
  };

  it.each([
    ["provider-loaded", { OPENSSL_CONF: "provider.cnf" }, ["version"]],
    ["engine-loaded", { OPENSSL_CONF: "engine.cnf" }, ["version"]],
    ["modules-dir-provider-loaded", { OPENSSL_CONF: "modules.cnf", OPENSSL_MODULES: "modules" }, ["version"]],
    ["engines-dir-engine-loaded", { OPENSSL_CONF: "engines.cnf", OPENSSL_ENGINES: "engines" }, ["version"]],
  ])("%s: the openssl CLI loads it when run with %o", (marker, vars, args) => {
    const env = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, p("bait", v)]));
    expect(markerAfter(marker, () => openssl(env, args))).toBe(true);
  });

  it("the attacker's CA makes the rogue server's certificate verify for a client that honours SSL_CERT_FILE", async () => {
    // asynchronously: the rogue server lives in this process
    const sClient = (env: Record<string, string>) => new Promise<{ ok: boolean; stdout: string }>((resolve) => {
      const port = new URL(rogue.urls[0]).port;
      const child = execFile("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost",
        "-verify_hostname", "localhost", "-verify_return_error"], { env: { PATH: "/usr/bin:/bin", ...env }, timeout: 20_000 },
      (error, stdout) => resolve({ ok: !error, stdout }));
      child.stdin?.end();
    });
    const honoured = await sClient({ SSL_CERT_FILE: attacker.caFile });
    expect(honoured.stdout).toMatch(/Verify return code: 0 \(ok\)/);
    expect((await sClient({})).ok).toBe(false);
  });

  it("a client that honours http_proxy connects to the recorder", async () => {
    const before = proxyConnections;
    // asynchronously: the recorder lives in this process
    await new Promise<void>((resolve) => execFile("python3", ["-c",
      "import urllib.request\ntry: urllib.request.urlopen('http://example.invalid/', timeout=5)\nexcept Exception: pass"],
    { env: { PATH: "/usr/bin:/bin", http_proxy: proxy() }, timeout: 20_000 }, () => resolve()));
    expect(proxyConnections).toBeGreaterThan(before);
  });
});

describe.each(PROGRAMS)("$name with the caller's hostile environment and umask 000", (program) => {
  const run = (password: string, env: Record<string, string>) =>
    world.run({ caller: program.caller(ALICE.user), argv: program.argv(ALICE.user), password, env: { PATH: "/usr/bin:/bin", ...env }, umask: "000" });

  it.each(ROWS.filter((row) => program.transports(row).length > 0))("$name", async (row) => {
    const before = watched();
    const proxiedBefore = proxyConnections;
    const rogueBefore = rogue.requests.length;
    const outcomes: string[] = [];
    const created: string[] = [];
    const outcome = (what: string, r: SessionResult) =>
      `${what}: ${r.timedOut ? "timed out" : r.transcript.includes(program.ranAs) && r.exitCode === 0 ? "let through" : `refused (exit ${r.exitCode})`}`;

    try {
      for (const transport of program.transports(row)) {
        if (row.server === "genuine") {
          world.writeConfig(`socket = ${genuineUrl[transport]}\ntimeout = 3\n${transport === "https" ? `cafile = ${pki.caFile}\n` : ""}${row.config?.() ?? ""}`);
          outcomes.push(outcome(`${transport} right password`, await run(ALICE.password, row.env())));
          outcomes.push(outcome(`${transport} wrong password`, await run("not-it", row.env())));
        } else {
          world.writeConfig(`socket = ${rogue.urls[0]}\ntimeout = 3\n${row.config?.() ?? ""}`);
          const r = await run(ALICE.password, row.env());
          outcomes.push(outcome(`${transport} right password, rogue server`, r));
          expect(moduleLines(r)).toContainEqual(expect.stringMatching(/^3 pam_mapi\(.*\): no Kopano server available for user=alice /));
        }
        created.push(...watched().filter((entry) => !before.includes(entry)).map((entry) => `${transport}: ${entry}`));
        removeCreated(before);
      }
    } finally {
      removeCreated(before);
    }
    const expected = program.transports(row).flatMap((t) => (row.server === "genuine"
      ? [`${t} right password: let through`, `${t} wrong password: refused (exit 1)`]
      : [`${t} right password, rogue server: refused (exit 1)`]));
    expect(outcomes).toEqual(expected);
    expect(created, "files created because of the caller's variables").toEqual([]);
    expect(proxyConnections - proxiedBefore, "connections to the proxy recorder").toBe(0);
    expect(rogue.requests.length - rogueBefore, "requests the rogue server received").toBe(0);
  });
});
