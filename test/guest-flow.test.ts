// The verdict policy of design.md, row by row, through the real guest export with a scripted transport.
// Replies are the real Kopano 11.0.2 server's bytes (../shared/fixtures/wire).
import { describe, expect, it } from "vitest";
import { DOMParser } from "@xmldom/xmldom";
import { conversation, kopano11 } from "./helpers/captures.js";
import { loadGuest, type Level, type Reply, type TransportError } from "./helpers/guest.js";

type Step = Reply | TransportError;
const enc = (s: string) => new TextEncoder().encode(s);
const noConfig = new Uint8Array();
const ok = (body: Buffer | string): Reply => ({ status: 200, body: typeof body === "string" ? enc(body) : body });

const LOGON_OK = kopano11("tcp-a-logon-ok-alice.resp.raw");
const LOGON_FAILED = kopano11("tcp-b-logon-wrong-password.resp.raw");
const BAD_CHARWIDTH = kopano11("tcp-f-logon-no-unicode-cap.resp.raw");
const INVALID_VERSION = kopano11("tcp-g-logon-old-version-5.resp.raw");
const LOGOFF_OK = kopano11("tcp-d-logoff.resp.raw");
const session = conversation("logon-getuser-logoff.http.txt");
const GETUSER_ALICE = session.replies[1]; // imap and pop3 disabled; mobile, outlook, webapp enabled

interface Sent { server: number; body: string }

async function run(script: Step[], args: string[], opts: { user?: string; password?: string | Uint8Array; config?: string } = {}) {
  const sent: Sent[] = [];
  const logs: { level: Level; message: string }[] = [];
  const guest = await loadGuest({
    post: (server, body) => {
      sent.push({ server, body: Buffer.from(body).toString("utf8") });
      const step = script.shift();
      if (step === undefined) throw new Error("guest sent more requests than the test scripted");
      return typeof step === "string" ? { tag: "err", val: step } : step;
    },
    log: (level, message) => logs.push({ level, message }),
  });
  const password = opts.password === undefined ? enc("Secr3t!") : typeof opts.password === "string" ? enc(opts.password) : opts.password;
  const verdict = guest.authenticate("smtp", opts.user ?? "alice", password, args, enc(opts.config ?? ""), "192.0.2.7");
  return { verdict, sent, logs, left: script.length };
}

const two = ["socket=http://127.0.0.1:1/,http://127.0.0.1:2/"];
const operation = (body: string) => /<ns:(\w+)>/.exec(body)?.[1];

describe("verdict policy", () => {
  it("er 0 from the first server is PAM_SUCCESS, with one logon and no logoff (NO_REGISTER_SESSION)", async () => {
    const r = await run([ok(LOGON_OK)], two);
    expect(r.verdict).toEqual({ code: "success", reason: "authenticated", user: "alice" });
    expect(r.sent.map((s) => operation(s.body))).toEqual(["logon"]);
    expect(r.sent[0].body).toContain("<ulFlags>3</ulFlags>");
  });

  it("LOGON_FAILED is PAM_AUTH_ERR and never fails over", async () => {
    const r = await run([ok(LOGON_FAILED), ok(LOGON_OK)], two);
    expect(r.verdict.code).toBe("auth-err");
    expect(r.sent).toHaveLength(1);
    expect(r.left).toBe(1);
    expect(r.logs.some((l) => l.level === "notice" && l.message.includes("authentication failure") && l.message.includes("user=alice"))).toBe(true);
  });

  it("quiet suppresses the failure line but not the verdict", async () => {
    const r = await run([ok(LOGON_FAILED)], [...two, "quiet"]);
    expect(r.verdict.code).toBe("auth-err");
    expect(r.logs.filter((l) => l.message.includes("authentication failure"))).toEqual([]);
  });

  it.each<[string, Step]>([
    ["refused", "refused"],
    ["timeout", "timeout"],
    ["TLS failure", "tls"],
    ["HTTP status", "http-status"],
    ["oversized reply", "too-large"],
    ["SOAP fault", { status: 500, body: enc('<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>Error -2147221245</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>') }],
    ["unreadable reply", ok("<html>proxy error</html>")],
    ["unexpected er (BAD_CHARWIDTH)", ok(BAD_CHARWIDTH)],
    ["unexpected er (INVALID_VERSION)", ok(INVALID_VERSION)],
    ["HTTP 500 whose body says er 0", { status: 500, body: LOGON_OK }],
  ])("%s on the first server fails over to the second", async (_name, first) => {
    const r = await run([first, ok(LOGON_OK)], two);
    expect(r.verdict.code).toBe("success");
    expect(r.sent.map((s) => s.server)).toEqual([0, 1]);
  });

  it("no server answering is PAM_AUTHINFO_UNAVAIL, naming the last problem", async () => {
    const r = await run(["refused", "timeout"], two);
    expect(r.verdict.code).toBe("authinfo-unavail");
    expect(r.verdict.reason).toMatch(/server 2 .*timed out/);
    expect(r.logs.some((l) => l.level === "error")).toBe(true);
  });

  it("ignore_unavailable turns an unavailable verdict into PAM_IGNORE", async () => {
    const r = await run(["refused", "refused"], [...two, "ignore_unavailable"]);
    expect(r.verdict.code).toBe("ignore");
  });

  it("a configuration error is PAM_SERVICE_ERR without any request", async () => {
    const r = await run([], ["sockett=http://x/"]);
    expect(r.verdict.code).toBe("service-err");
    expect(r.sent).toEqual([]);
    expect(r.logs.some((l) => l.level === "error" && l.message.startsWith("configuration error"))).toBe(true);
  });

  it.each<[string, { user?: string; password?: string | Uint8Array }]>([
    ["empty password", { password: "" }],
    ["password that is not UTF-8", { password: new Uint8Array([0x70, 0xe4, 0x73, 0x73]) }],
    ["password with a NUL byte", { password: new Uint8Array([0x61, 0, 0x62]) }],
    ["password over 1024 bytes", { password: "x".repeat(1025) }],
    ["empty user name", { user: "" }],
    ["user name with a control character", { user: "ali\nce" }],
    ["user name with DEL", { user: "ali\x7fce" }],
    ["user name over 256 bytes", { user: "a".repeat(257) }],
    ["the SYSTEM account", { user: "system" }],
    ["the SYSTEM account in capitals", { user: "SYSTEM" }],
    ["the SYSTEM account in mixed case", { user: "sYsTeM" }],
  ])("%s is PAM_AUTH_ERR without contacting a server", async (_name, opts) => {
    const r = await run([], two, opts);
    expect(r.verdict.code).toBe("auth-err");
    expect(r.sent).toEqual([]);
  });
});

// Only SYSTEM itself is refused early: names that merely look like it go to the server (here: LOGON_FAILED).
it.each(["systen", "systems", "sy stem", "ſystem", "SYSTEM\u00a0"])("the user %j is asked of the server", async (user) => {
  const r = await run([ok(LOGON_FAILED)], two, { user });
  expect(r.verdict.code).toBe("auth-err");
  expect(r.sent.length).toBe(1);
});

describe("feature check (service=)", () => {
  it("logs on with a registered session, reads getUser, logs off, and succeeds when a feature is enabled", async () => {
    const r = await run([ok(LOGON_OK), ok(GETUSER_ALICE), ok(LOGOFF_OK)], ["socket=http://127.0.0.1:1/", "service=imap|webapp"]);
    expect(r.verdict.code).toBe("success");
    expect(r.sent.map((s) => operation(s.body))).toEqual(["logon", "getUser", "logoff"]);
    expect(r.sent[0].body).toContain("<ulFlags>1</ulFlags>");
    expect(r.sent[1].body).toContain("<ulSessionId>772504223263698196</ulSessionId>");
    expect(r.sent[2].body).toContain("<ulSessionId>772504223263698196</ulSessionId>");
  });

  it("is PERM_DENIED (PAM_AUTH_ERR in the loader) when every required feature is disabled, and still logs off", async () => {
    const r = await run([ok(LOGON_OK), ok(GETUSER_ALICE), ok(LOGOFF_OK)], ["socket=http://127.0.0.1:1/", "service=imap|pop3"]);
    expect(r.verdict.code).toBe("perm-denied");
    expect(r.sent.map((s) => operation(s.body))).toEqual(["logon", "getUser", "logoff"]);
  });

  // The rule is "not in the disabled list", not "in the enabled list": the two differ for a user with no feature
  // lists at all and for a feature named in neither list (Kopano then applies its server default: enabled).
  const GETUSER_NO_LISTS = Buffer.from(GETUSER_ALICE.toString("latin1").replace(/<lpsMVPropmap>.*<\/lpsMVPropmap>/, ""), "latin1");
  const GETUSER_NO_WEBAPP = Buffer.from(GETUSER_ALICE.toString("latin1")
    .replace('xsd:string[3]"><item>mobile</item><item>outlook</item><item>webapp</item>', 'xsd:string[2]"><item>mobile</item><item>outlook</item>'), "latin1");
  it.each<[string, Buffer, string]>([
    ["no feature lists at all", GETUSER_NO_LISTS, "service=imap"],
    ["the feature in neither list", GETUSER_NO_WEBAPP, "service=webapp"],
  ])("%s: the feature counts as enabled (PAM_SUCCESS)", async (_what, reply, service) => {
    expect(reply.toString()).not.toContain("webapp");
    const r = await run([ok(LOGON_OK), ok(reply), ok(LOGOFF_OK)], ["socket=http://127.0.0.1:1/", service]);
    expect(r.verdict.code).toBe("success");
    expect(r.sent.map((s) => operation(s.body))).toEqual(["logon", "getUser", "logoff"]);
  });

  it("a getUser transport failure logs off and fails over", async () => {
    const r = await run([ok(LOGON_OK), "closed", ok(LOGOFF_OK), ok(LOGON_OK), ok(GETUSER_ALICE), ok(LOGOFF_OK)],
      [...two, "service=webapp"]);
    expect(r.verdict.code).toBe("success");
    expect(r.sent.map((s) => `${s.server}:${operation(s.body)}`)).toEqual(
      ["0:logon", "0:getUser", "0:logoff", "1:logon", "1:getUser", "1:logoff"]);
  });
});

describe("sessions on servers that ignore NO_REGISTER_SESSION", () => {
  it("logs off after success when the server is older than Kopano 8.5 (Zarafa 7.2)", async () => {
    const zarafa = LOGON_OK.toString().replace("0,11,0,2", "0,7,2,0,48204");
    const r = await run([ok(zarafa), ok(LOGOFF_OK)], ["socket=http://127.0.0.1:1/"]);
    expect(r.verdict.code).toBe("success");
    expect(r.sent.map((s) => operation(s.body))).toEqual(["logon", "logoff"]);
  });
});

describe("the logon envelope", () => {
  const parse = (xml: string) => {
    // xmldom 0.8 reports through `errorHandler` (an `onError` option is silently ignored); its warnings count too:
    // a mismatched end tag is only a warning there.
    const errors: string[] = [];
    const doc = new DOMParser({ errorHandler: (level: string, msg: string) => { errors.push(`${level}: ${msg}`); } })
      .parseFromString(xml, "text/xml");
    expect(errors).toEqual([]);
    return doc;
  };
  it("the well-formedness check fails on an envelope that is not well-formed (control)", () => {
    expect(() => parse("<a><b>o'brien&<co></b></a>")).toThrow();
    expect(() => parse("<a><b>x</c></a>")).toThrow();
  });
  const decode2 = (s: string) => Buffer.from(Buffer.from(s.slice(4), "base64").map((b) => b ^ 0xa5)).toString("utf8");

  const passwords = [
    "Secr3t!", "a&b<c>d\"e'f", "]]>", "<![CDATA[x]]>", "</szPassword><szUsername>root</szUsername>", "&amp;", "&#x41;",
    "line\nbreak", "cr\rreturn", "tab\there", "ctrl\x01\x1f", "{1}:abc", "{2}:pKWl", "{3}:not special", "ünïcödé 🔑",
    " leading and trailing ", "\uFFFF", "x".repeat(1024),
  ];
  it.each(passwords)("carries password %j exactly, with the envelope structure unchanged", async (password) => {
    const r = await run([ok(LOGON_FAILED)], ["socket=http://127.0.0.1:1/"], { password, user: "o'brien&<co>" });
    const doc = parse(r.sent[0].body);
    // XML 1.0 forbids "]]>" in element text; xmldom reads it without a word, so look for it here
    expect(r.sent[0].body).not.toContain("]]>");
    const logon = doc.getElementsByTagNameNS("urn:zarafa", "logon");
    expect(logon.length).toBe(1);
    const names = Array.from(logon[0].childNodes as any as Element[]).map((n) => n.nodeName);
    expect(names).toEqual(["szUsername", "szPassword", "szImpersonateUser", "ulCapabilities", "ulFlags", "sLicenseReq",
      "ullSessionGroup", "szClientApp", "szClientAppVersion", "szClientAppMisc"]);
    const field = (n: string) => doc.getElementsByTagName(n)[0].textContent ?? "";
    expect(field("szUsername")).toBe("o'brien&<co>");
    const sentPassword = field("szPassword");
    expect(sentPassword.startsWith("{2}:") ? decode2(sentPassword) : sentPassword).toBe(password);
    expect(field("ulCapabilities")).toBe("528");
    expect(field("szClientAppMisc")).toBe("smtp");
    expect(field("sLicenseReq")).toBe("");
  });
});

describe("Zarafa before 7.1 over the unix socket (it ignores NO_UID_AUTH)", () => {
  const withVersion = (version: string | null) => {
    const body = LOGON_OK.toString("utf8");
    return ok(version === null ? body.replace(/<lpszVersion>[^<]*<\/lpszVersion>/, "") : body.replace("<lpszVersion>0,11,0,2</lpszVersion>", `<lpszVersion>${version}</lpszVersion>`));
  };
  const socket = ["socket=file:///run/kopano/server.sock,http://127.0.0.1:2/"];

  it.each<[string, string | null]>([
    ["7.0", "0,7,0,15,37056"],
    ["6.40", "0,6,40,17,29567"],
    ["an empty version", ""],
    ["no version at all", null],
    ["an unreadable version", "0,7,x,1"],
  ])("a logon accepted by %s over file:// is PAM_SERVICE_ERR, logged off, no failover", async (_name, version) => {
    const r = await run([withVersion(version), ok(LOGOFF_OK)], socket);
    expect(r.verdict.code).toBe("service-err");
    expect(r.verdict.reason).toMatch(/older than 7\.1: it ignores NO_UID_AUTH on its unix socket .* use http:\/\/ or https:\/\/ to this server instead$/);
    expect(r.sent.map((s) => [s.server, operation(s.body)])).toEqual([[0, "logon"], [0, "logoff"]]);
    expect(r.logs.some((l) => l.level === "error" && l.message.startsWith("refusing user=alice rhost=192.0.2.7 service=smtp: server 1 (file:///run/kopano/server.sock)"))).toBe(true);
  });

  it.each([["7.1", "0,7,1,0,32499"], ["7.2", "0,7,2,0,48204"], ["Kopano 8.7", "0,8,7,16"]])("%s over file:// is accepted", async (_name, version) => {
    const r = await run([withVersion(version), ok(LOGOFF_OK)], socket);
    expect(r.verdict.code).toBe("success");
  });

  it("7.0 over http:// is accepted (no uid authentication there)", async () => {
    const r = await run([withVersion("0,7,0,15,37056"), ok(LOGOFF_OK)], two);
    expect(r.verdict.code).toBe("success");
  });

  it("a wrong password on 7.0 over file:// stays PAM_AUTH_ERR (the server refused it: nothing to distrust)", async () => {
    const r = await run([ok(LOGON_FAILED)], socket);
    expect(r.verdict.code).toBe("auth-err");
  });
});
