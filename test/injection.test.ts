// Injection: random user names and passwords (every byte, every length up to the limits and past them). Either the
// logon request, read by an independent XML parser (xmldom), carries exactly the input — the password as escaped
// text or in the `{2}:` form (base64 of the bytes XOR 0xA5) — or the input was refused before any request, for
// one of the documented reasons. Through the jco guest (thousands of cases) and through the real module via
// libpam (user names as raw bytes, which a JS string cannot carry).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, startCannedServer, type CannedServer } from "./helpers/canned-server.js";
import { kopano11 } from "./helpers/captures.js";
import { loadGuest } from "./helpers/guest.js";
import { MODULE, PAM, makeConfdir, moduleStack, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";
// @ts-expect-error plain JavaScript module shared with the fuzzer
import { readLogonRequest } from "./fuzz/reference.mjs";

const LOGON_FAILED = kopano11("tcp-b-logon-wrong-password.resp.raw");
const FIELDS = ["szUsername", "szPassword", "szImpersonateUser", "ulCapabilities", "ulFlags", "sLicenseReq",
  "ullSessionGroup", "szClientApp", "szClientAppVersion", "szClientAppMisc"];

const utf8 = new TextDecoder("utf-8", { fatal: true });
function isUtf8(b: Uint8Array): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why the documented input rules refuse this user name or password, or "" if they accept it. */
function refusal(user: Uint8Array, password: Uint8Array): string {
  if (user.length === 0 || user.length > 256 || !isUtf8(user)) return "user";
  const name = utf8.decode(user);
  if (CONTROL.test(name) || name.toUpperCase() === "SYSTEM") return "user";
  if (password.length === 0 || password.length > 1024 || !isUtf8(password) || password.includes(0)) return "password";
  return "";
}

/** The password bytes the server will compare: `{2}:` decoded (base64, XOR 0xA5), or the text as UTF-8. */
function sentPassword(text: string): Buffer {
  if (text.startsWith("{2}:")) return Buffer.from(Buffer.from(text.slice(4), "base64").map((b) => b ^ 0xa5));
  return Buffer.from(text, "utf8");
}

/** Checks one request body against the input; returns a problem or "". */
function requestProblem(body: string, user: Uint8Array, password: Uint8Array): string {
  const req = readLogonRequest(body);
  if (JSON.stringify(req.fields) !== JSON.stringify(FIELDS)) return `fields ${req.fields.join(",")}`;
  if (!Buffer.from(req.user, "utf8").equals(Buffer.from(user))) return `user ${JSON.stringify(req.user)}`;
  if (!sentPassword(req.password).equals(Buffer.from(password))) return `password ${JSON.stringify(req.password)}`;
  if (req.password.startsWith("{1}:")) return "password in the {1}: form";
  if (req.flags !== "3" && req.flags !== "1") return `flags ${req.flags}`;
  return "";
}

const anyString = (maxLength: number) => fc.oneof(
  fc.string({ unit: "binary", maxLength }),
  fc.string({ unit: fc.constantFrom("<", ">", "&", "\"", "'", "]]>", "\r", "\n", "\t", "\u0000", "{2}:", "{1}:", "a", "\u00e9", "\u{1f600}", "\ufffe", "\u0085", "&amp;", "<![CDATA[", "-->"), maxLength }),
);
const bytesOf = (s: string) => new TextEncoder().encode(s);

describe("injection through the guest (jco)", () => {
  it("user names and passwords reach the request exactly, or are refused before any request", async () => {
    const runs = Number(process.env.INJECTION_RUNS ?? 2000);
    let sentCount = 0, refused = 0;
    const property = fc.asyncProperty(
      fc.oneof(anyString(40), fc.string({ unit: "binary", minLength: 200, maxLength: 300 }), fc.constantFrom("system", "SyStEm", "alice")),
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ minLength: 1000, maxLength: 1100 }),
        anyString(64).map(bytesOf),
        fc.constantFrom("{2}:abc", "{1}:abc", "pa&ss<word>", "]]>").map(bytesOf),
      ),
      async (userText, password) => {
        const user = bytesOf(userText);
        const bodies: string[] = [];
        const guest = await loadGuest({
          post: (_server, body) => {
            bodies.push(Buffer.from(body).toString("utf8"));
            return { status: 200, body: LOGON_FAILED };
          },
        });
        const v = guest.authenticate("smtp", userText, password, ["socket=http://127.0.0.1:1/"], new Uint8Array(), "");
        expect(v.code).toBe("auth-err");
        const why = refusal(user, password);
        if (why !== "") {
          refused++;
          expect(bodies).toEqual([]);
          return;
        }
        sentCount++;
        expect(bodies).toHaveLength(1);
        expect(requestProblem(bodies[0], user, password)).toBe("");
      },
    );
    await fc.assert(property, { numRuns: runs });
    expect(sentCount).toBeGreaterThan(runs / 10);
    expect(refused).toBeGreaterThan(runs / 10);
  }, 300_000);
});

describe("injection through the real module (libpam, raw bytes)", () => {
  let server: CannedServer;
  let confdir: string;
  let scratch: string;
  beforeAll(async () => {
    server = await startCannedServer({ reply: capture("tcp-b-logon-wrong-password.resp.raw") });
    confdir = makeConfdir();
    scratch = mkdtempSync(path.join(os.tmpdir(), "injection-"));
    const config = path.join(scratch, "pam_mapi.conf"); // ours: the default may belong to another test
    writeFileSync(config, "", { mode: 0o644 });
    writeConfdir(confdir, "inj", moduleStack(MODULE, [`socket=${server.url}`, "timeout=5", `config=${config}`]));
  });
  afterAll(async () => {
    await server.close();
    removeConfdir(confdir);
    rmSync(scratch, { recursive: true, force: true });
  });

  it("raw user-name and password bytes: exact in the request, or refused with no request", async () => {
    // argv cannot carry NUL and a prompt line ends at LF: those bytes are covered through the guest above
    const noNul = (max: number, min = 1) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => b.map((x) => (x === 0 ? 1 : x)));
    // valid UTF-8 without control characters, so that some names get through to the request
    const printable = (max: number, min = 1) => fc.string({ unit: "binary", minLength: min, maxLength: max })
      // eslint-disable-next-line no-control-regex
      .map((t) => bytesOf(t.replace(/[\u0000-\u001f\u007f-\u009f]/g, "x")));
    const samples = fc.sample(fc.tuple(
      fc.oneof(noNul(12), noNul(300, 250), printable(12), printable(12), printable(300, 240))
        .map((b) => b.map((x) => (x === 10 ? 11 : x))), // $(…) below would drop a trailing LF
      fc.oneof(noNul(16), anyString(16).map(bytesOf), fc.constant(bytesOf("{2}:x&<>]]>")))
        .map((b) => b.map((x) => (x === 10 ? 11 : x))), // a prompt line ends at LF
    ), { numRuns: 20, seed: 4242 });
    let sent = 0, refused = 0;
    for (const [user, password] of samples) {
      if (user.length === 0) continue;
      const before = server.requests.length;
      // Node passes argv and stdin strings as UTF-8: the raw bytes go through bash's printf and a Buffer
      const escaped = Array.from(user, (b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
      const r = await runPamdrive(confdir, "inj", escaped, ["auth"], {
        prefix: ["bash", "-c", 'a=("$@"); a[3]=$(printf "%b" "${a[3]}"); exec "${a[@]}"', "bash"],
        input: Buffer.concat([Buffer.from(password), Buffer.from("\n")]) as unknown as string,
        env: { LC_ALL: "C" },
      });
      expect(r.ops.auth).toBe(PAM.AUTH_ERR);
      const bodies = server.requests.slice(before).map((q) => q.body.toString("utf8"));
      if (refusal(user, password) !== "") {
        refused++;
        expect(bodies).toEqual([]);
      } else {
        sent++;
        expect(bodies).toHaveLength(1);
        expect(requestProblem(bodies[0], user, password)).toBe("");
      }
    }
    expect(sent).toBeGreaterThan(2);
    expect(refused).toBeGreaterThan(2);
  }, 120_000);
});
