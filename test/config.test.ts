// Configuration: the guest's `configure` (and, for `features`, which the WIT record keeps inside the guest, the
// same parser through test/helpers/config-probe.ts) against the `ini` package and the rules in design.md.
import { beforeAll, describe, expect, it } from "vitest";
import ini from "ini";
import { loadGuest, tryConfigure, type Guest } from "./helpers/guest.js";
import { parseServerUrl } from "../host/server-url.js";
import { compileConfigProbe, type ConfigProbe, type Probed, type ProbedSettings } from "./helpers/config-probe.js";

const DEFAULT_SERVER = "file:///var/run/kopano/server.sock";
const BOOLEAN_KEYS = ["try_first_pass", "use_first_pass", "ignore_unavailable", "quiet", "debug"] as const;
const STRING_KEYS = ["socket", "service", "timeout", "cafile", "capath"] as const;
const ALL_KEYS = [...STRING_KEYS, ...BOOLEAN_KEYS];
const FLAG_NAMES = {
  try_first_pass: "tryFirstPass", use_first_pass: "useFirstPass", ignore_unavailable: "ignoreUnavailable",
  quiet: "quiet", debug: "debug",
} as const;

let probe: ConfigProbe;
beforeAll(() => {
  probe = compileConfigProbe();
});

type Expected = Omit<ProbedSettings, "ok">;

/** Both views of one configuration: `configure` through the component, and the probe (adds `features`). */
async function parse(service: string, args: string[], file: string | Uint8Array): Promise<{ ok: true; s: Expected } | { ok: false; error: string }> {
  const viaProbe: Probed = probe(service, args, file);
  // A fresh instance per call, as each PAM call gets: the stub runtime never frees memory.
  const guest: Guest = await loadGuest();
  const viaGuest = tryConfigure(guest, service, args, file);
  if (!viaGuest.ok) {
    expect(viaProbe).toEqual({ ok: false, error: viaGuest.error });
    return { ok: false, error: viaGuest.error };
  }
  expect(viaProbe.ok, viaProbe.ok ? "" : viaProbe.error).toBe(true);
  if (!viaProbe.ok) throw new Error("unreachable");
  const g = viaGuest.settings;
  const o = g.options;
  const s: Expected = {
    servers: g.servers, features: viaProbe.features, timeoutMs: g.timeoutMs, cafile: g.cafile, capath: g.capath,
    tryFirstPass: !!o.tryFirstPass, useFirstPass: !!o.useFirstPass, ignoreUnavailable: !!o.ignoreUnavailable,
    quiet: !!o.quiet, debug: !!o.debug,
  };
  const { ok: _ok, ...probed } = viaProbe;
  expect(probed).toEqual(s);
  return { ok: true, s };
}

async function settingsOf(service: string, args: string[], file: string | Uint8Array): Promise<Expected> {
  const r = await parse(service, args, file);
  if (!r.ok) throw new Error(`unexpected configuration error: ${r.error}`);
  return r.s;
}

async function errorOf(service: string, args: string[], file: string | Uint8Array): Promise<string> {
  const r = await parse(service, args, file);
  if (r.ok) throw new Error(`expected a configuration error, got ${JSON.stringify(r.s)}`);
  return r.error;
}

// ---- the reference: ini's object plus the precedence rules, for valid inputs ----

type IniValue = string | boolean | number | null;
const BOOLEAN_WORDS: Record<string, boolean> = { yes: true, true: true, on: true, "1": true, no: false, false: false, off: false, "0": false };

function expectedFromIni(service: string, args: string[], text: string): Expected {
  const decoded = ini.decode(text) as Record<string, unknown>;
  const effective: Record<string, IniValue> = {};
  for (const [k, v] of Object.entries(decoded)) if (typeof v !== "object" || v === null) effective[k] = v as IniValue;
  for (const [name, v] of Object.entries(decoded)) {
    if (typeof v === "object" && v !== null && name.toLowerCase() === service.toLowerCase()) {
      Object.assign(effective, v);
    }
  }
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq < 0) effective[a] = true;
    else effective[a.slice(0, eq)] = a.slice(eq + 1);
  }
  const e: Expected = {
    servers: [DEFAULT_SERVER], features: [], timeoutMs: 10000, cafile: "", capath: "",
    tryFirstPass: false, useFirstPass: false, ignoreUnavailable: false, quiet: false, debug: false,
  };
  for (const [k, v] of Object.entries(effective)) {
    const text = String(v);
    const items = (sep: string) => text.split(sep).map((item) => item.replace(/^[ \t]+|[ \t]+$/g, ""));
    if (k === "socket") e.servers = items(",");
    else if (k === "service") e.features = text === "" ? [] : [...new Set(items("|"))];
    else if (k === "timeout") e.timeoutMs = Math.round(Number(text) * 1000);
    else if (k === "cafile") e.cafile = text;
    else if (k === "capath") e.capath = text;
    else if (k in FLAG_NAMES) {
      const flag = v === true ? true : BOOLEAN_WORDS[text.toLowerCase()];
      if (flag === undefined) throw new Error(`generator made a bad boolean ${text}`);
      e[FLAG_NAMES[k as keyof typeof FLAG_NAMES]] = flag;
    } else throw new Error(`generator made an unknown key ${k}`);
  }
  return e;
}

// ---- a seeded generator of valid files and arguments ----

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(private rnd: () => number) {}
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  subset<T>(xs: readonly T[], p: number): T[] {
    return xs.filter(() => this.chance(p)).sort(() => this.rnd() - 0.5);
  }
  /** Spaces, tabs and now and then a Unicode space that JavaScript's trim() removes too. */
  ws(): string {
    let s = "";
    const n = this.int(3);
    for (let i = 0; i < n; i++) s += this.pick([" ", " ", "\t", "\u00a0", "\u3000"]);
    return s;
  }
  randomCase(s: string): string {
    return [...s].map((c) => (this.chance(0.3) ? c.toUpperCase() : c)).join("");
  }
}

const URLS = [
  DEFAULT_SERVER, "file:///var/run/zarafa", "file:///run/kopano/prio.sock", "http://localhost:236/",
  "http://127.0.0.1:236/zarafa", "https://kopano.example.org:237/kopano", "https://[::1]:237/", "http://[2001:db8::1]",
  "http://host-1.example/", "https://a.b.c:65535/x/y_z", "http://10.0.0.255:1/", "https://Mail.Example.COM/zarafa",
];
const FEATURES = ["imap", "pop3", "mobile", "outlook", "webapp"];
const TIMEOUTS = ["1", "10", "300", "0.1", "2.5", "10.250", "007", "299.999", "30.0"];
const PATHS = ["/etc/ssl/certs/ca.pem", "/etc/ssl/certs", "/path with spaces/ca.pem", "/odd;dir/x#1.pem",
  "/etc/ßsl/ca.pem", "/back\\slash/ca", "/q'uote/\"x\""];

function genValue(g: Gen, key: string): string {
  switch (key) {
    case "socket": return Array.from({ length: 1 + g.int(3) }, () => g.pick(URLS)).join(",");
    case "service": return Array.from({ length: g.int(4) }, () => g.pick(FEATURES)).join("|");
    case "timeout": return g.pick(TIMEOUTS);
    default: return g.chance(0.1) ? "" : g.pick(PATHS);
  }
}

function jsonQuoted(g: Gen, v: string): string {
  let out = '"';
  for (const c of v) {
    if (c === '"' || c === "\\") out += "\\" + c;
    else if (c === "/" && g.chance(0.5)) out += "\\/";
    else if (g.chance(0.1) && c.length === 1) out += "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
    else out += c;
  }
  return out + '"';
}

/** One way ini reads back as `v` (a comment may follow unquoted values only). */
function renderValue(g: Gen, v: string): string {
  const styles: string[] = ["json"];
  if (!/^[\s"']/.test(v) && !/\s$/.test(v)) styles.push("plain");
  if (!/^\s*["[{]/.test(v) && v.trim() === v) styles.push("single");
  const style = g.pick(styles);
  if (style === "json") return jsonQuoted(g, v);
  if (style === "single") return `'${v}'`;
  let plain = "";
  for (const c of v) plain += c === ";" || c === "#" ? "\\" + c : c === "\\" && g.chance(0.5) ? "\\\\" : c;
  if (plain.endsWith("\\") ) plain += "\\";
  return plain + (g.chance(0.3) ? g.ws() + g.pick([" ; a comment", " # another", ";x=y"]) : "");
}

function genKeyLine(g: Gen, key: string): string {
  if ((BOOLEAN_KEYS as readonly string[]).includes(key) && g.chance(0.4)) {
    return g.ws() + key + g.ws() + (g.chance(0.3) ? " ; comment" : "");
  }
  const raw = (BOOLEAN_KEYS as readonly string[]).includes(key)
    ? g.randomCase(g.pick(["yes", "no", "true", "false", "on", "off", "1", "0"]))
    : genValue(g, key);
  return g.ws() + key + g.ws() + "=" + g.ws() + renderValue(g, raw) + g.ws();
}

function genNoise(g: Gen): string {
  return g.pick(["", "   ", "\t", "; comment", "# comment", "  ;[imap] socket=x", "\t# key = value", ";;", "#"]);
}

const SERVICES = ["imap", "pop3", "sshd", "dovecot", "common-auth", "apache2", "kopano-imap"];

function genFile(g: Gen): string {
  const lines: string[] = [];
  const add = (l: string) => {
    while (g.chance(0.3)) lines.push(genNoise(g));
    lines.push(l);
  };
  if (g.chance(0.1)) lines.push("\ufeff; starts with a byte order mark");
  for (const k of g.subset(ALL_KEYS, 0.3)) add(genKeyLine(g, k));
  const used = new Map<string, Set<string>>();
  for (const name of g.subset(SERVICES, 0.5)) {
    const header = g.chance(0.3) ? g.randomCase(name) : name;
    const keys = new Set<string>();
    used.set(name, keys);
    add("[" + (g.chance(0.2) ? `"${header}"` : header) + "]" + g.ws());
    for (const k of g.subset(ALL_KEYS, 0.3)) {
      keys.add(k);
      add(genKeyLine(g, k));
    }
  }
  // A repeated header adds to its section, as in ini, with keys not set there yet.
  for (const [name, keys] of used) {
    if (!g.chance(0.3)) continue;
    add(`[${name}]`);
    for (const k of g.subset(ALL_KEYS.filter((k) => !keys.has(k)), 0.3)) add(genKeyLine(g, k));
  }
  while (g.chance(0.3)) lines.push(genNoise(g));
  const eol = g.pick(["\n", "\r\n"]);
  return lines.join(eol) + (g.chance(0.7) ? eol : "");
}

function genArgs(g: Gen): string[] {
  return g.subset(ALL_KEYS, 0.2).map((k) => {
    if ((BOOLEAN_KEYS as readonly string[]).includes(k)) {
      return g.chance(0.5) ? k : `${k}=${g.randomCase(g.pick(["yes", "no", "true", "false", "on", "off", "1", "0"]))}`;
    }
    return `${k}=${genValue(g, k)}`;
  });
}

describe("differential against ini.decode", () => {
  it("gives the effective settings ini's reading implies, for 1500 generated valid configurations", async () => {
    const g = new Gen(mulberry32(0x5eed));
    for (let i = 0; i < 1500; i++) {
      const file = genFile(g);
      const args = genArgs(g);
      const service = g.pick([...SERVICES, "other"]);
      const what = `case ${i}: service ${service}, args ${JSON.stringify(args)}, file ${JSON.stringify(file)}`;
      const r = await parse(service, args, file);
      expect(r.ok ? "" : r.error, what).toBe("");
      if (r.ok) expect(r.s, what).toEqual(expectedFromIni(service, args, file));
    }
  });
});

describe("soundness under mutation", () => {
  const TRICKY = [";", "#", "\"", "'", "\\", "[", "]", "=", " ", "\t", "\r\n", "\n", ".", "x", "[]", "\u00a0", "__proto__", "\r"];
  function mutate(g: Gen, text: string): string {
    for (let n = 1 + g.int(3); n > 0; n--) {
      const at = g.int(text.length + 1);
      const what = g.int(3);
      if (what === 0) text = text.slice(0, at) + g.pick(TRICKY) + text.slice(at);
      else if (what === 1) text = text.slice(0, at) + text.slice(at + 1 + g.int(3));
      else {
        const lines = text.split("\n");
        const i = g.int(lines.length);
        lines.splice(i, 0, lines[i]);
        text = lines.join("\n");
      }
    }
    return text;
  }

  it("whatever the guest accepts, it reads as ini does (3000 mutated files)", async () => {
    const g = new Gen(mulberry32(0xc0ffee));
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const file = mutate(g, genFile(g));
      const service = g.pick([...SERVICES, "other"]);
      const r = await parse(service, [], file);
      if (!r.ok) continue;
      accepted++;
      expect(r.s, `case ${i}: service ${service}, file ${JSON.stringify(file)}`).toEqual(expectedFromIni(service, [], file));
    }
    // Most mutations break something; enough survive for the property to mean something.
    expect(accepted).toBeGreaterThan(300);
  });
});

// ---- errors: each class, with its place ----

const line = (n: number) => `configuration file line ${n}: `;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("errors name the place, what is wrong and what is allowed", () => {
  it("unknown key", async () => {
    const file = "; pam_mapi\n\nsocket = file:///run/k.sock\n\n[imap]\nservice = imap\nsockett = http://x/\n";
    expect(await errorOf("imap", [], file)).toBe(line(7) +
      "unknown key 'sockett' (did you mean 'socket'?; known: socket, service, timeout, cafile, capath, try_first_pass, use_first_pass, ignore_unavailable, quiet, debug, use_authtok)");
    expect(await errorOf("imap", ["debug", "foo=bar"], "")).toBe(
      "module argument 2 'foo=bar': unknown key 'foo' (known: socket, service, timeout, cafile, capath, try_first_pass, use_first_pass, ignore_unavailable, quiet, debug, use_authtok, config)");
    expect(await errorOf("imap", [], "Socket=file:///x")).toMatch(/^configuration file line 1: unknown key 'Socket'/);
  });

  it("errors in sections for other services count too", async () => {
    expect(await errorOf("imap", [], "[imap]\ndebug\n[pop3]\ntimeout = 0\n")).toBe(line(4) +
      "timeout: '0' is not a number of seconds from 0.1 to 300 with at most 3 decimals (e.g. timeout=10)");
    expect(await errorOf("sshd", [], "[imap]\nverbose\n")).toMatch(/^configuration file line 2: unknown key 'verbose'/);
  });

  it("bad values, per key", async () => {
    const cases: Array<[string, RegExp]> = [
      ["socket = ftp://x/", /socket: 'ftp:\/\/x\/' has no supported scheme \(allowed: file:\/\/\/absolute\/path, http:\/\/host\[:port\]\[\/path\], https:\/\/host\[:port\]\[\/path\], separated by ','\)/],
      ["socket =", /socket: '' is empty/],
      ["socket = http://a/,", /socket: '' is empty/],
      ["socket = http://a/, ,http://b/", /socket: '' is empty/],
      ["service = imap|smtp", /service: unknown feature 'smtp' \(allowed: imap, pop3, mobile, outlook, webapp, separated by '\|'\)/],
      ["service = imap||pop3", /service: unknown feature ''/],
      ["service = IMAP", /service: unknown feature 'IMAP'/],
      ["timeout = 0.05", /timeout: '0.05' is not a number of seconds from 0.1 to 300/],
      ["timeout = 300.001", /timeout: '300.001'/],
      ["timeout = 1.2345", /timeout: '1.2345'/],
      ["timeout = 1.", /timeout: '1.'/],
      ["timeout = .5", /timeout: '.5'/],
      ["timeout = -1", /timeout: '-1'/],
      ["timeout = 1e1", /timeout: '1e1'/],
      ["timeout = 99999999999999999999", /timeout: '99999999999999999999'/],
      ["timeout = ' 10'", /timeout: ' 10'/],
      ["cafile = etc/ca.pem", /cafile: 'etc\/ca.pem' is not an absolute path/],
      ["cafile = /etc/\uFFFD.pem", /cafile: '\/etc\/\uFFFD.pem' holds U\+FFFD/],
      ["capath = ~/certs", /capath: '~\/certs' is not an absolute path/],
      ["debug = maybe", /debug: 'maybe' is not a boolean \(allowed: yes, no, true, false, on, off, 1, 0, or the bare key\)/],
      ["quiet =", /quiet: '' is not a boolean/],
      ["quiet = null", /quiet: 'null' is not a boolean/],
      ["socket", /'socket' needs a value \(socket=URL\[,URL...\]\)/],
      ["timeout ; forgot it", /'timeout' needs a value/],
      ["cafile = \"/etc/ca\\u0007.pem\"", /cafile: control character U\+0007 in the value/],
    ];
    for (const [text, re] of cases) {
      const err = await errorOf("imap", [], `# header\n${text}\n`);
      expect(err, text).toMatch(/^configuration file line 2: /);
      expect(err, text).toMatch(re);
    }
  });

  it("duplicate keys: within the top level, a section (also across case and repeated headers), the arguments", async () => {
    expect(await errorOf("x", [], "debug\nquiet\ndebug = no\n")).toBe(line(3) + "duplicate key 'debug' (first set on line 1; keep one of them)");
    expect(await errorOf("x", [], "[imap]\ntimeout=5\n[pop3]\n[imap]\ntimeout=6\n")).toBe(line(5) + "duplicate key 'timeout' (first set on line 2; keep one of them)");
    expect(await errorOf("x", [], "[imap]\ntimeout=5\n[IMAP]\ntimeout=6\n")).toBe(line(4) + "duplicate key 'timeout' (first set on line 2; keep one of them)");
    expect(await errorOf("x", ["quiet", "debug", "quiet=no"], "")).toBe(
      "module argument 3 'quiet=no': duplicate key 'quiet' (first set in argument 1; keep one of them)");
    // The same key at the top level and in a section is the point of sections, not a duplicate.
    expect((await settingsOf("imap", [], "timeout=5\n[imap]\ntimeout=6\n")).timeoutMs).toBe(6000);
  });

  it("keys outside the allowed shapes, and lines ini would skip or misread", async () => {
    const cases: Array<[string, number, string]> = [
      ["socket[] = file:///a", 1, "array key 'socket[]' is not supported"],
      ["__proto__ = x", 1, "key '__proto__' is not allowed"],
      ["[__proto__]", 1, "section name '__proto__' is not allowed"],
      ["[kopano.imap]", 1, "section name 'kopano.imap' contains '.' (nested sections are not supported)"],
      ["[]", 1, "empty section name"],
      ["debug\n[debug]\nquiet", 2, "section name 'debug' is a key name (ini would mix the two up)"],
      ["[Socket]", 1, "section name 'Socket' is a key name"],
      ["[ ; nothing ]", 1, "empty section name"],
      ["\"socket\" = file:///a", 1, "quoted key \"socket\" (keys are plain names)"],
      ["socket ; old = file:///a", 1, "'socket ; old': comment character in a key (a comment goes after the value or on its own line)"],
      ["debug\n= yes", 2, "missing key before '=' (expected a comment, [SECTION], KEY or KEY=VALUE)"],
      ["  = yes", 1, "missing key before '='"],
      ["debug\n  [imap]", 2, "section header '[imap]' must start at the beginning of the line"],
      ["[imap] ; the imap gateway", 1, "malformed section header '[imap] ; the imap gateway' (expected [NAME] alone on the line)"],
      ["[imap]x", 1, "malformed section header '[imap]x'"],
      ["[imap", 1, "malformed section header '[imap'"],
      ["config = /etc/other.conf", 1, "'config' is only valid as a module argument"],
    ];
    for (const [text, n, message] of cases) {
      expect(await errorOf("imap", [], text), text).toMatch(new RegExp("^" + escapeRegExp(line(n) + message)));
    }
  });

  it("quoting that ini would read differently from what the writer meant", async () => {
    const cases: Array<[string, RegExp]> = [
      ["cafile = \"/etc/ca.pem\" ; trust", /cafile: unbalanced quote in "\/etc\/ca.pem" ; trust/],
      ["cafile = \"/etc/ca.pem", /cafile: unbalanced quote/],
      ["cafile = '/etc/ca.pem", /cafile: unbalanced quote/],
      ["cafile = \"", /cafile: unbalanced quote/],
      ["cafile = '", /cafile: unbalanced quote/],
      ["cafile = \"/a\"b\"", /cafile: double-quoted value "\/a"b" is not a valid JSON string/],
      ["cafile = \"/a\\qb\"", /cafile: double-quoted value .* is not a valid JSON string/],
      ["cafile = \"/a\tb\"", /cafile: double-quoted value .* is not a valid JSON string/],
      ["cafile = '\"/etc/ca.pem\"'", /cafile: single-quoted value .* looks like JSON \(ini would decode it\); use double quotes/],
      ["socket = '[1]'", /socket: single-quoted value/],
      ["[\"imap]", /section name: unbalanced quote/],
    ];
    for (const [text, re] of cases) {
      const err = await errorOf("imap", [], text);
      expect(err, text).toMatch(/^configuration file line 1: /);
      expect(err, text).toMatch(re);
    }
  });

  it("encoding: invalid UTF-8, control characters, line separators, size", async () => {
    const bytes = (...parts: Array<string | number[]>) =>
      new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));
    expect(await errorOf("imap", [], bytes("debug\nquiet\ncafile=/", [0xc3, 0x28], "\n"))).toBe(line(3) + "invalid UTF-8");
    expect(await errorOf("imap", [], bytes("; ", [0xc0, 0xaf]))).toBe(line(1) + "invalid UTF-8");
    expect(await errorOf("imap", [], bytes("\n; ", [0xed, 0xa0, 0x80]))).toBe(line(2) + "invalid UTF-8");
    expect(await errorOf("imap", [], bytes("debug\r\n; ", [0xf4, 0x90, 0x80, 0x80]))).toBe(line(2) + "invalid UTF-8");
    expect(await errorOf("imap", [], bytes("; truncated ", [0xe2, 0x82]))).toBe(line(1) + "invalid UTF-8");
    expect(await errorOf("imap", [], "debug\nquiet = yes\x07\n")).toBe(line(2) + "control character U+0007 (only TAB is allowed)");
    expect(await errorOf("imap", [], "debug\n; \x00\n")).toBe(line(2) + "control character U+0000 (only TAB is allowed)");
    expect(await errorOf("imap", [], "; next\u0085\n")).toBe(line(1) + "control character U+0085 (only TAB is allowed)");
    expect(await errorOf("imap", [], "debug\n\n;\u2028\n")).toBe(line(3) + "control character U+2028 (only TAB is allowed)");
    expect(await errorOf("imap", [], "debug\rquiet\n")).toBe(line(1) + "carriage return not followed by a line feed (line endings are LF or CRLF)");
    expect(await errorOf("imap", [], "\x1b[31m")).toBe(line(1) + "control character U+001B (only TAB is allowed)");
    // TAB is whitespace, CRLF a line ending.
    expect((await settingsOf("imap", [], "\tdebug\t=\tyes\t\r\nquiet\r\n")).debug).toBe(true);

    const padded = (n: number) => "debug\n" + ";".repeat(n - 7) + "\n";
    expect(padded(65536).length).toBe(65536);
    expect((await settingsOf("imap", [], padded(65536))).debug).toBe(true);
    expect(await errorOf("imap", [], padded(65537))).toBe("configuration file: 65537 bytes, at most 65536 are allowed");
  });

  it("module arguments: count, shape, control characters, config=", async () => {
    // 64 arguments pass the count check (only 11 distinct keys exist, so the 64 include a bad one to look at).
    const sixtyFour = ["debug", ...Array.from({ length: 63 }, () => "")];
    expect(await errorOf("imap", sixtyFour, "")).toBe("module argument 2 '': missing key before '='");
    expect(await errorOf("imap", [...sixtyFour, "quiet"], "")).toBe("module arguments: 65 given, at most 64 are allowed");
    expect(await errorOf("imap", ["config=/etc/a.conf", "debug", "config=/etc/b.conf"], "")).toBe(
      "module argument 3 'config=/etc/b.conf': duplicate key 'config' (first set in argument 1; keep one of them)");
    expect(await errorOf("imap", ["=yes"], "")).toBe("module argument 1 '=yes': missing key before '='");
    expect(await errorOf("imap", ["socket"], "")).toBe("module argument 1 'socket': 'socket' needs a value (socket=URL[,URL...])");
    expect(await errorOf("imap", ["cafile=/etc/\x1bca"], "")).toBe("module argument 1 'cafile=/etc/\\u001Bca': control character U+001B");
    expect(await errorOf("imap", ["config=pam_mapi.conf"], "")).toBe("module argument 1 'config=pam_mapi.conf': config: 'pam_mapi.conf' is not an absolute path (one starting with /)");
    expect(await errorOf("imap", ["config="], "")).toBe("module argument 1 'config=': config: '' is empty (an absolute path is required)");
    expect(await errorOf("imap", [" debug"], "")).toMatch(/^module argument 1 ' debug': unknown key ' debug'/);
    // Arguments are verbatim: no trimming, quotes or comments.
    expect(await errorOf("imap", ["cafile=\"/etc/ca.pem\""], "")).toMatch(/^module argument 1 'cafile="\/etc\/ca.pem"': cafile: '"\/etc\/ca.pem"' is not an absolute path/);
    expect((await settingsOf("imap", ["cafile=/etc/ca.pem;x#y"], "")).cafile).toBe("/etc/ca.pem;x#y");
    expect((await settingsOf("imap", ["config=/etc/security/pam_mapi.conf", "debug"], "")).debug).toBe(true);
    const long = "x".repeat(200);
    expect(await errorOf("imap", [long], "")).toBe(`module argument 1 '${"x".repeat(80)}...': unknown key '${"x".repeat(80)}...' (known: socket, service, timeout, cafile, capath, try_first_pass, use_first_pass, ignore_unavailable, quiet, debug, use_authtok, config)`);
  });
});

// ---- precedence ----

describe("precedence: arguments > [service] section > top level > defaults", () => {
  const file = [
    "socket = http://top:236/",
    "timeout = 5",
    "service = imap",
    "debug",
    "cafile = /etc/top.pem",
    "[imap]",
    "socket = https://imap-a:237/,https://imap-b:237/",
    "quiet = on",
    "[pop3]",
    "timeout = 7.5",
    "debug = off",
    "service =",
  ].join("\n");

  it("defaults with no file and no arguments", async () => {
    expect(await settingsOf("imap", [], "")).toEqual({
      servers: [DEFAULT_SERVER], features: [], timeoutMs: 10000, cafile: "", capath: "",
      tryFirstPass: false, useFirstPass: false, ignoreUnavailable: false, quiet: false, debug: false,
    });
  });

  it("a section overrides the top level for its service only", async () => {
    expect(await settingsOf("imap", [], file)).toMatchObject({
      servers: ["https://imap-a:237/", "https://imap-b:237/"], features: ["imap"], timeoutMs: 5000,
      cafile: "/etc/top.pem", quiet: true, debug: true,
    });
    expect(await settingsOf("pop3", [], file)).toMatchObject({
      servers: ["http://top:236/"], features: [], timeoutMs: 7500, debug: false, quiet: false,
    });
    expect(await settingsOf("sshd", [], file)).toMatchObject({ servers: ["http://top:236/"], timeoutMs: 5000, debug: true, quiet: false });
  });

  it("section names match the service case-insensitively", async () => {
    expect((await settingsOf("imap", [], "[IMAP]\nquiet\n")).quiet).toBe(true);
    expect((await settingsOf("Imap", [], "[imap]\nquiet\n")).quiet).toBe(true);
    expect((await settingsOf("imap", [], "[\"Imap\"]\nquiet\n")).quiet).toBe(true);
  });

  it("module arguments override both, including turning a boolean off and a feature check off", async () => {
    expect(await settingsOf("imap", ["socket=file:///run/k.sock", "quiet=no", "debug=0", "timeout=0.1", "service=", "cafile="], file))
      .toMatchObject({ servers: ["file:///run/k.sock"], quiet: false, debug: false, timeoutMs: 100, features: [], cafile: "" });
    expect(await settingsOf("pop3", ["service=pop3|imap|pop3", "capath=/etc/ssl/certs", "try_first_pass", "use_first_pass=YES", "ignore_unavailable=True"], file))
      .toMatchObject({ features: ["pop3", "imap"], capath: "/etc/ssl/certs", tryFirstPass: true, useFirstPass: true, ignoreUnavailable: true });
  });
});

// ---- server URLs ----

describe("socket URLs", () => {
  it("blanks around ',' and '|' separate items; they are not part of a URL or feature", async () => {
    const s = await settingsOf("imap", [], "socket = http://a/ ,  http://b/\nservice = imap | pop3\n");
    expect(s.servers).toEqual(["http://a/", "http://b/"]);
    expect(s.features).toEqual(["imap", "pop3"]);
  });

  const servers = async (v: string) => (await settingsOf("imap", [`socket=${v}`], "")).servers;
  const urlError = async (v: string) => await errorOf("imap", [`socket=${v}`], "");

  it("accepts the documented and historic forms, in failover order", async () => {
    const good = [
      "file:///var/run/kopano/server.sock", "file:///var/run/zarafa", "file:///var/run/zarafa-prio",
      "http://localhost:236/zarafa", "https://kopano.example.org:237/zarafa", "http://127.0.0.1:236",
      "http://127.0.0.1:236/kopano", "https://[::1]:237/", "http://[2001:db8::ffff:10.0.0.1]:8080/x",
      "http://[::]/", "https://xn--bcher-kva.example/", "http://a-b.c-d.example:65535/a/b/~x_y.z;p=1:!$&'()*+=", "file:///run/kopano-11/server_1.sock",
      "http://h:1", "file:///" + "s".repeat(106),
    ];
    for (const u of good) {
      expect(await servers(u), u).toEqual([u]);
      // The guest never accepts what the Node host's own check (the last word before connecting) refuses.
      expect(() => parseServerUrl(u), u).not.toThrow();
    }
    for (const u of URLS) expect(() => parseServerUrl(u), u).not.toThrow();
    expect(await servers(good.slice(0, 8).join(","))).toEqual(good.slice(0, 8));
  });

  it("refuses everything else with the reason", async () => {
    const bad: Array<[string, string]> = [
      ["file://host/run/k.sock", "is not file:///absolute/path (a file URL has no host)"],
      ["file:relative", "has no supported scheme"],
      ["file:///run/../etc/k.sock", "has a '..' path segment"],
      ["file:///run/k/..", "has a '..' path segment"],
      ["file:///run/kopano/", "names a directory, not a socket"],
      ["file:///run/./k.sock", "has a '.' path segment"],
      ["file:///run/k%2Esock", "has a percent-escape (not allowed)"],
      ["file:///run/k.sock?x", "has a query or fragment"],
      ["file:///run/my k.sock", "has a character in its path outside A-Z a-z 0-9 / - . _ ~ ! $ & ' ( ) * + ; = :"],
      ["file:///run/kö.sock", "has a character in its path outside"],
      ["file:///run/k@x.sock", "has a character in its path outside"],
      ["http://host/a/../b", "has a '..' path segment"],
      ["http://host/a/@b", "has a character in its path outside"],
      ["http://" + "h".repeat(50) + "/" + "p".repeat(2000), "is longer than 2048 bytes"],
      ["file:///" + "s".repeat(107), "has a socket path over 107 bytes"],
      ["ftp://x/", "has no supported scheme"],
      ["HTTP://x/", "has no supported scheme"],
      ["http://", "has no host"],
      ["http://:236/", "has no host"],
      ["http://user@host/", "has user information (user@host is not allowed)"],
      ["http://user:pw@host:236/", "has user information (user@host is not allowed)"],
      ["http://host/?q=1", "has a query or fragment"],
      ["http://host/#frag", "has a query or fragment"],
      ["http://host:0/", "has an invalid port '0' (1-65535)"],
      ["http://host:65536/", "has an invalid port '65536' (1-65535)"],
      ["http://host:/", "has an invalid port '' (1-65535)"],
      ["http://host:23a/", "has an invalid port '23a' (1-65535)"],
      ["http://host:000236/", "has an invalid port '000236' (1-65535)"],
      ["http://ho_st/", "has an invalid host 'ho_st' (a DNS name, IPv4 address or [IPv6] address)"],
      ["http://-host/", "has an invalid host '-host'"],
      ["http://host./", "has an invalid host 'host.'"],
      ["http://a..b/", "has an invalid host 'a..b'"],
      ["http://" + "a".repeat(64) + ".example/", "has an invalid host"],
      ["http://256.1.1.1/", "has an invalid host '256.1.1.1'"],
      ["http://1.2.3/", "has an invalid host '1.2.3'"],
      ["http://01.2.3.4/", "has an invalid host '01.2.3.4'"],
      ["http://[::1/", "has an invalid [IPv6] address"],
      ["http://[1:2:3:4:5:6:7:8:9]/", "has an invalid [IPv6] address"],
      ["http://[1::2::3]/", "has an invalid [IPv6] address"],
      ["http://[fe80::1%25eth0]/", "has a percent-escape (not allowed)"],
      ["http://[fe80::1g]/", "has an invalid [IPv6] address"],
      ["http://[::1]x/", "has text after the host"],
      ["http://::1/", "has no host"],
      ["http://host/a b", "has a character in its path outside"],
      ["http://host/ü", "has a character in its path outside"],
      ["http://host/a%20b", "has a percent-escape (not allowed)"],
    ];
    for (const [u, why] of bad) {
      const err = await urlError(u);
      expect(err, u).toContain(`socket: '${u.slice(0, 80)}${u.length > 80 ? "..." : ""}' ${why}`);
      expect(err, u).toContain("(allowed: file:///absolute/path, http://host[:port][/path], https://host[:port][/path], separated by ',')");
    }
    expect(await urlError(Array(9).fill("http://h/").join(","))).toBe(
      `module argument 1 '${("socket=" + Array(9).fill("http://h/").join(",")).slice(0, 80)}...': socket: 9 URLs, at most 8 are allowed`);
  });
});

// One instance serves configure and then authenticate for one PAM call, and the guest reuses the first parse when
// the inputs are the same (assembly/config.ts settingsFor). Any change of service, arguments or file must parse
// again: a stale result would authenticate against the wrong server.
describe("one instance, several configurations", () => {
  it("every change of file, arguments or service is parsed afresh, and going back gives the first result again", async () => {
    const guest = await loadGuest();
    const file = (socket: string) => new TextEncoder().encode(`socket = ${socket}\n[imap]\nsocket = http://imap.example/\n`);
    const servers = (service: string, args: string[], config: Uint8Array) => {
      const r = tryConfigure(guest, service, args, config);
      return r.ok ? r.settings.servers : r.error;
    };
    const a = file("http://a.example/"), b = file("http://b.example/");
    expect(servers("smtp", [], a)).toEqual(["http://a.example/"]);
    expect(servers("smtp", [], a)).toEqual(["http://a.example/"]);
    expect(servers("smtp", [], b)).toEqual(["http://b.example/"]);
    // The same length and the same bytes but one: still a different file.
    expect(servers("smtp", [], file("http://c.example/"))).toEqual(["http://c.example/"]);
    expect(servers("imap", [], b)).toEqual(["http://imap.example/"]);
    expect(servers("imap", ["socket=http://arg.example/"], b)).toEqual(["http://arg.example/"]);
    expect(servers("imap", ["socket=http://arg.example/", "debug"], b)).toEqual(["http://arg.example/"]);
    expect(servers("imap", ["socket=http://arh.example/"], b)).toEqual(["http://arh.example/"]);
    expect(servers("smtp", [], new TextEncoder().encode("socket = \n"))).toMatch(/socket/);
    expect(servers("smtp", [], a)).toEqual(["http://a.example/"]);
  });
});
