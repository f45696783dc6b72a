// The XML reader (assembly/xml.ts) and the SOAP reply readers (assembly/reply.ts), compiled from the real sources
// behind a small probe entry (test/fixtures/reply-probe.guest.ts): every captured reply reads as the server meant
// it, and no hostile or damaged reply is ever read as er 0.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { conversation, kopano11, kopano11Dir, splitHttp, wireDir } from "./helpers/captures.js";
import { loadGuest, type Code, type Reply } from "./helpers/guest.js";
import { compileProbe } from "./helpers/probe.js";

interface Logon { readable: boolean; problem: string; er: number; sessionId: string; serverVersion: string; capabilities: number }
interface User { readable: boolean; problem: string; er: number; username: string; objClass: number; enabled: string[] | null; disabled: string[] | null }
interface Logoff { readable: boolean; problem: string; result: number }
interface Fault { readable: boolean; problem: string; code: string; text: string }
interface Node { ns: string; local: string; attributes: [string, string, string][]; text: string; mixed: boolean; children: Node[] }
type Xml = { ok: true; root: Node } | { ok: false; error: string; offset: number };
type Op = "logon" | "getUser" | "logoff" | "fault" | "xml" | "name";

interface ProbeExports {
  memory: WebAssembly.Memory;
  input(len: number): number;
  outPtr(): number;
  outLen(): number;
  logon(len: number): void;
  getUser(len: number): void;
  logoff(len: number): void;
  fault(len: number): void;
  xml(len: number): void;
  name(er: number): void;
}

let probe: ProbeExports;

beforeAll(() => {
  probe = new WebAssembly.Instance(compileProbe("test/fixtures/reply-probe.guest.ts", 2), {}).exports as unknown as ProbeExports;
});

const enc = new TextEncoder();
const dec = new TextDecoder();
function call(op: Op, body: string | Uint8Array): unknown {
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  const p = probe.input(bytes.length);
  new Uint8Array(probe.memory.buffer, p, bytes.length).set(bytes);
  probe[op](bytes.length);
  return JSON.parse(dec.decode(new Uint8Array(probe.memory.buffer, probe.outPtr(), probe.outLen())));
}
const logon = (b: string | Uint8Array) => call("logon", b) as Logon;
const getUser = (b: string | Uint8Array) => call("getUser", b) as User;
const logoff = (b: string | Uint8Array) => call("logoff", b) as Logoff;
const fault = (b: string | Uint8Array) => call("fault", b) as Fault;
const xml = (b: string | Uint8Array) => call("xml", b) as Xml;
const errorName = (er: number) => {
  probe.name(er);
  return JSON.parse(dec.decode(new Uint8Array(probe.memory.buffer, probe.outPtr(), probe.outLen()))) as string;
};

const LOGON_FAILED = 2147483657;

// ---- bodies -------------------------------------------------------------------------------------------------

const SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12 = "http://www.w3.org/2003/05/soap-envelope";
const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const ENV_OPEN = `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${SOAP11}" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" ` +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:ns="urn:zarafa">`;
const BODY_OPEN = `<SOAP-ENV:Body SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">`;
const env = (inBody: string) => DECL + ENV_OPEN + BODY_OPEN + inBody + "</SOAP-ENV:Body></SOAP-ENV:Envelope>";
const logonResponse = (fields: string) => env(`<ns:logonResponse>${fields}</ns:logonResponse>`);
const REST = "<ulSessionId>42</ulSessionId><lpszVersion>0,11,0,2</lpszVersion><ulCapabilities>39592</ulCapabilities>" +
  "<sLicenseResponse></sLicenseResponse><sServerGuid>gEtxHJk8QBi2uhAyLDS9/Q==</sServerGuid>";
const withEr = (er: string) => logonResponse(`<er>${er}</er>${REST}`);
const FAULT11 = env("<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>Error -2147221245</faultstring></SOAP-ENV:Fault>");
const FAULT12 = DECL + `<env:Envelope xmlns:env="${SOAP12}"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value>` +
  `</env:Code><env:Reason><env:Text xml:lang="en">Error -2147221245</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`;

const userResponse = (user: string, er = "0") => env(`<ns:getUserResponse><lpsUser>${user}</lpsUser><er>${er}</er></ns:getUserResponse>`);
const mvItem = (propId: number, values: string[], declared = values.length) =>
  `<item><ulPropId>${propId}</ulPropId><sValues SOAP-ENC:arrayType="xsd:string[${declared}]">` +
  values.map((v) => `<item>${v}</item>`).join("") + "</sValues></item>";
const ENABLED = 1739788318;
const DISABLED = 1739853854;
const USER = "<ulUserId>3</ulUserId><lpszUsername>alice</lpszUsername><ulObjClass>65537</ulObjClass>";

const LOGON_OK = kopano11("tcp-a-logon-ok-alice.resp.raw");
const LOGON_FAILED_BODY = kopano11("tcp-b-logon-wrong-password.resp.raw");
const session = conversation("logon-getuser-logoff.http.txt");
const GETUSER_ALICE = session.replies[1];

/** Every reply in the real Kopano 11.0.2 captures, de-chunked, with what INDEX.txt says it holds. */
function kopanoCaptures(): { name: string; body: Buffer; result: number; sessionId: string }[] {
  const index = readFileSync(path.join(kopano11Dir, "INDEX.txt"), "utf8").split("\n").slice(1).filter((l) => l.trim());
  return index.map((line) => {
    const [name, , hex, , sid] = line.split(/\s+/);
    return { name, body: kopano11(`${name}.resp.raw`), result: parseInt(hex, 16), sessionId: sid ?? "" };
  });
}

/** The replies of real-client-kopano-admin-conversation.txt ("===== SERVER->CLIENT n bytes =====" blocks). */
function adminConversationReplies(): Buffer[] {
  const raw = readFileSync(path.join(kopano11Dir, "real-client-kopano-admin-conversation.txt"));
  const text = raw.toString("latin1");
  const out: Buffer[] = [];
  const re = /===== SERVER->CLIENT (\d+) bytes =====\n/g;
  for (let m; (m = re.exec(text)); ) {
    const start = m.index + m[0].length;
    out.push(splitHttp(raw.subarray(start, start + Number(m[1]))).body);
  }
  return out;
}

// ---- captures -------------------------------------------------------------------------------------------------

describe("captured replies", () => {
  it("reads every Kopano 11.0.2 reply exactly as INDEX.txt lists it", () => {
    const all = kopanoCaptures();
    expect(all.length).toBeGreaterThanOrEqual(29);
    for (const c of all) {
      const text = c.body.toString("utf8");
      if (text.includes("logoffResponse")) {
        expect(logoff(c.body), c.name).toEqual({ readable: true, problem: "", result: c.result });
      } else {
        const r = logon(c.body);
        expect(r.readable, c.name).toBe(true);
        expect(r.problem, c.name).toBe("");
        expect(r.er, c.name).toBe(c.result);
        expect(r.sessionId, c.name).toBe(c.sessionId);
      }
    }
  });

  it("reads the logon reply fields of a real success and a real failure", () => {
    expect(logon(LOGON_OK)).toEqual({ readable: true, problem: "", er: 0, sessionId: "772504223263698196", serverVersion: "0,11,0,2", capabilities: 39592 });
    expect(logon(LOGON_FAILED_BODY)).toEqual({ readable: true, problem: "", er: LOGON_FAILED, sessionId: "0", serverVersion: "0,11,0,2", capabilities: 39080 });
    // 11.0.2 without the UNICODE cap: no lpszVersion at all
    expect(logon(kopano11("tcp-f-logon-no-unicode-cap.resp.raw"))).toMatchObject({ readable: true, er: 2147483697, serverVersion: "", capabilities: 0 });
    // chunked (ENHANCED_ICS) and the real client's license-carrying reply
    expect(logon(kopano11("tcp-i-logon-enhanced-ics-cap.resp.raw"))).toMatchObject({ readable: true, er: 0, sessionId: "14465664222467257746" });
    expect(logon(kopano11("real-client-logon.resp.raw"))).toMatchObject({ readable: true, er: 0, sessionId: "7577326998027569483", capabilities: 40936 });
  });

  it("reads the logon → getUser → logoff conversation, features included", () => {
    expect(logon(session.replies[0])).toMatchObject({ readable: true, er: 0, sessionId: "1311768467294899695" });
    expect(getUser(GETUSER_ALICE)).toEqual({
      readable: true, problem: "", er: 0, username: "alice", objClass: 65537,
      enabled: ["mobile", "outlook", "webapp"], disabled: ["imap", "pop3"],
    });
    expect(logoff(session.replies[2])).toEqual({ readable: true, problem: "", result: 0 });
    expect(logon(conversation("logon-unix-socket.http.txt").replies[0])).toMatchObject({ readable: true, er: 0 });
  });

  it("reads the wrong-password reply and the HTTP 500 fault of the missing-UNICODE conversation", () => {
    const c = conversation("logon-wrong-password-and-no-unicode.http.txt");
    expect(logon(c.replies[0])).toMatchObject({ readable: true, er: LOGON_FAILED, sessionId: "0" });
    expect(fault(c.replies[1])).toEqual({ readable: true, problem: "", code: "SOAP-ENV:Client", text: "Error -2147221245" });
    expect(logon(c.replies[1])).toMatchObject({ readable: false, problem: "SOAP fault: SOAP-ENV:Client Error -2147221245" });
  });

  it("reads the real kopano-admin conversation's logon, getUser (no feature lists) and logoff replies", () => {
    const replies = adminConversationReplies().map((b) => b.toString("utf8"));
    const pick = (op: string) => replies.filter((r) => r.includes(`<ns:${op}Response>`));
    expect(pick("logon").map((r) => logon(r))).toEqual([
      expect.objectContaining({ readable: true, er: 0, sessionId: "7577326998027569483" }),
      expect.objectContaining({ readable: true, er: 0, sessionId: "8228827531192827647" }),
    ]);
    expect(getUser(pick("getUser")[0])).toEqual({ readable: true, problem: "", er: 0, username: "SYSTEM", objClass: 65537, enabled: null, disabled: null });
    expect(pick("logoff").map((r) => logoff(r).result)).toEqual([0, 0]);
  });

  it("reads the gSOAP-generated samples, the ZCP 7.1 wrapped layout included", () => {
    const gen = (f: string) => readFileSync(path.join(wireDir, "generated", f));
    expect(logon(gen("KCmd.logon.res.xml"))).toEqual({ readable: true, problem: "", er: 0, sessionId: "0", serverVersion: "", capabilities: 0 });
    expect(logon(gen("Zarafa719.logon.res.xml"))).toEqual({ readable: true, problem: "", er: 0, sessionId: "0", serverVersion: "", capabilities: 0 });
    expect(logoff(gen("KCmd.logoff.res.xml"))).toEqual({ readable: true, problem: "", result: 0 });
    expect(getUser(gen("KCmd.getUser.res.xml"))).toMatchObject({ readable: true, er: 0, username: "", objClass: 0, enabled: null, disabled: null });
    // a different operation's reply is never a logon reply
    expect(logon(gen("KCmd.ssoLogon.res.xml"))).toMatchObject({ readable: false, problem: expect.stringContaining("ssoLogonResponse") });
    expect(readdirSync(path.join(wireDir, "generated")).filter((f) => f.endsWith(".res.xml"))).toHaveLength(5);
  });
});

// ---- accepted spellings ---------------------------------------------------------------------------------------

describe("equivalent spellings that are accepted", () => {
  it.each<[string, string]>([
    ["another prefix for urn:zarafa", DECL + `<s:Envelope xmlns:s="${SOAP11}"><s:Body><z:logonResponse xmlns:z="urn:zarafa"><er>0</er>${REST}</z:logonResponse></s:Body></s:Envelope>`],
    ["a default namespace with unqualified fields", DECL + `<s:Envelope xmlns:s="${SOAP11}"><s:Body><logonResponse xmlns="urn:zarafa"><er xmlns="">0</er></logonResponse></s:Body></s:Envelope>`],
    ["the SOAP 1.2 envelope", DECL + `<e:Envelope xmlns:e="${SOAP12}"><e:Body><ns:logonResponse xmlns:ns="urn:zarafa"><er>0</er>${REST}</ns:logonResponse></e:Body></e:Envelope>`],
    ["a UTF-8 byte order mark", "\ufeff" + withEr("0")],
    ["no XML declaration", withEr("0").slice(DECL.length)],
    ["encoding in lower case and single quotes, standalone", withEr("0").replace(DECL, "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>")],
    ["pretty-printing, CRLF line ends and comments between elements", withEr("0").replace(/></g, ">\r\n  <!-- c -->\r\n <")
      .replace(/<er>\r\n  <!-- c -->\r\n 0/, "<er>0")],
    ["an empty SOAP Header", withEr("0").replace(BODY_OPEN, "<SOAP-ENV:Header/>" + BODY_OPEN)],
    ["fields in another order, unknown fields skipped", logonResponse(`<bogus a="1"><x>y</x></bogus><ulSessionId>42</ulSessionId><er>0</er><z:extra xmlns:z="urn:x"/>`)],
    ["leading zeros", withEr("0000000000")],
    ["a character reference", withEr("&#48;")],
    ["a CDATA section", withEr("<![CDATA[0]]>")],
  ])("%s", (_name, body) => {
    expect(logon(body)).toMatchObject({ readable: true, problem: "", er: 0 });
  });

  it("accepts the largest er and the largest session id", () => {
    expect(logon(withEr("4294967295"))).toMatchObject({ readable: true, er: 4294967295 });
    expect(logon(logonResponse("<er>0</er><ulSessionId>18446744073709551615</ulSessionId>"))).toMatchObject({ readable: true, sessionId: "18446744073709551615" });
  });

  it("takes a missing ulSessionId as 0 and leaves the decision to the flow", () => {
    expect(logon(logonResponse("<er>0</er>"))).toEqual({ readable: true, problem: "", er: 0, sessionId: "0", serverVersion: "", capabilities: 0 });
  });

  it("reads the ZCP 7.1 wrapped getUser layout and er before lpsUser", () => {
    const wrapped = env(`<ns:getUserResponse><lpsUserGetResponse><er>0</er><lpsUser>${USER}<lpsMVPropmap>${mvItem(DISABLED, ["imap"])}</lpsMVPropmap></lpsUser></lpsUserGetResponse></ns:getUserResponse>`);
    expect(getUser(wrapped)).toEqual({ readable: true, problem: "", er: 0, username: "alice", objClass: 65537, enabled: null, disabled: ["imap"] });
  });

  it("reads getUser failures without lpsUser, UTF-8 names and other properties", () => {
    expect(getUser(env("<ns:getUserResponse><er>2147483664</er></ns:getUserResponse>"))).toMatchObject({ readable: true, er: 2147483664, username: "" });
    const user = "<lpszUsername>bøb</lpszUsername><ulObjClass>65537</ulObjClass><lpsMVPropmap>" +
      mvItem(0x12340003, ["x", "y"]) + mvItem(ENABLED, []) + "</lpsMVPropmap>";
    expect(getUser(userResponse(user))).toMatchObject({ readable: true, username: "bøb", enabled: [], disabled: null });
  });

  it("reads SOAP 1.1 and 1.2 faults", () => {
    expect(fault(FAULT11)).toEqual({ readable: true, problem: "", code: "SOAP-ENV:Client", text: "Error -2147221245" });
    expect(fault(FAULT12)).toEqual({ readable: true, problem: "", code: "env:Receiver", text: "Error -2147221245" });
    expect(fault(withEr("0"))).toMatchObject({ readable: false });
  });
});

// ---- hostile replies ------------------------------------------------------------------------------------------

/** A logon reply the reader must refuse outright, with a problem matching the pattern. */
const refused: [string, string | Uint8Array, RegExp][] = [
  ["er 0 only inside a comment", logonResponse(`<!--<er>0</er>-->${REST}`), /no er/],
  ["er 0 only inside CDATA", logonResponse(`<![CDATA[<er>0</er>]]>${REST}`), /text in logonResponse/],
  ["er 0 only in a nested unknown element", logonResponse(`<bogus><er>0</er></bogus>${REST}`), /no er/],
  ["er 0 nested under the wrapper's child", logonResponse(`<lpsLogonResponse><x><er>0</er></x></lpsLogonResponse>`), /no er/],
  ["er 0 as an attribute of the response", env(`<ns:logonResponse er="0">${REST}</ns:logonResponse>`), /attribute on logonResponse/],
  ["er 0 as an attribute of an unknown field", logonResponse(`<bogus er="0"/>${REST}`), /no er/],
  ["a second Body", withEr("0").replace("</SOAP-ENV:Envelope>", `${BODY_OPEN}<ns:logonResponse><er>0</er></ns:logonResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`), /after the SOAP Body/],
  ["a second response element", env(`<ns:logonResponse><er>${LOGON_FAILED}</er></ns:logonResponse><ns:logonResponse><er>0</er></ns:logonResponse>`), /more than one element/],
  ["a response element in urn:kopano", env(`<k:logonResponse xmlns:k="urn:kopano"><er>0</er></k:logonResponse>`), /unexpected response element \{urn:kopano\}logonResponse/],
  ["a response element in no namespace", env(`<logonResponse><er>0</er></logonResponse>`), /unexpected response element/],
  ["another operation's response", env(`<ns:ssoLogonResponse><er>0</er></ns:ssoLogonResponse>`), /unexpected response element/],
  ["two er, 0 first", logonResponse(`<er>0</er><er>${LOGON_FAILED}</er>`), /duplicate field er/],
  ["two er, 0 last", logonResponse(`<er>${LOGON_FAILED}</er><er>0</er>`), /duplicate field er/],
  ["er in both layouts", logonResponse(`<er>${LOGON_FAILED}</er><lpsLogonResponse><er>0</er></lpsLogonResponse>`), /both inside and outside/],
  ["two wrappers", logonResponse(`<lpsLogonResponse><er>0</er></lpsLogonResponse><lpsLogonResponse><er>0</er></lpsLogonResponse>`), /duplicate field lpsLogonResponse/],
  ["two ulSessionId", logonResponse(`<er>0</er><ulSessionId>1</ulSessionId><ulSessionId>2</ulSessionId>`), /duplicate field ulSessionId/],
  ["a qualified er", logonResponse(`<ns:er>0</ns:er>`), /qualified field/],
  ["er inheriting a default namespace", DECL + `<s:Envelope xmlns:s="${SOAP11}"><s:Body><logonResponse xmlns="urn:zarafa"><er>0</er></logonResponse></s:Body></s:Envelope>`, /qualified field/],
  ["er with xsi:nil", logonResponse(`<er xsi:nil="true"/>${REST}`), /attribute on er/],
  ["er as a multi-ref", logonResponse(`<er href="#id1"/>${REST}`), /attribute on er/],
  ["er with a child element", logonResponse(`<er><v>0</v></er>`), /child elements in er/],
  ["er with text and a child element", logonResponse(`<er>0<v/></er>`), /child elements in er/],
  ["empty er", withEr(""), /er is not/],
  ["er with a leading space", withEr(" 0"), /er is not/],
  ["er with a trailing newline", withEr("0\n"), /er is not/],
  ["er with a plus sign", withEr("+0"), /er is not/],
  ["negative zero", withEr("-0"), /er is not/],
  ["negative er", withEr("-1"), /er is not/],
  ["hexadecimal er", withEr("0x0"), /er is not/],
  ["er with a decimal point", withEr("0.0"), /er is not/],
  ["er in exponent form", withEr("0e0"), /er is not/],
  ["er in full-width digits", withEr("０"), /er is not/],
  ["er with 11 digits", withEr("00000000000"), /er is not/],
  ["er one above 2^32-1", withEr("4294967296"), /er is out of range/],
  ["er far above 2^32", withEr("99999999999999999999"), /er is not/],
  ["er with a non-breaking space reference", withEr("0&#xA0;"), /er is not/],
  ["a session id above 2^64-1", logonResponse(`<er>0</er><ulSessionId>18446744073709551616</ulSessionId>`), /ulSessionId is out of range/],
  ["a negative session id", logonResponse(`<er>0</er><ulSessionId>-1</ulSessionId>`), /ulSessionId is not/],
  ["a version with control characters", logonResponse(`<er>0</er><lpszVersion>0,11&#x9b;2J</lpszVersion>`), /lpszVersion contains control/],
  ["no er at all", logonResponse(REST), /no er/],
  ["text in the response element", logonResponse(`<er>0</er>surprise`), /text in logonResponse/],
  ["text in the Body", env(`x<ns:logonResponse><er>0</er></ns:logonResponse>`), /text in the SOAP Body/],
  ["text in the Envelope", withEr("0").replace(BODY_OPEN, "x" + BODY_OPEN), /text in the SOAP Envelope/],
  ["an empty Body", env(""), /empty SOAP Body/],
  ["no Body", DECL + ENV_OPEN + "</SOAP-ENV:Envelope>", /no SOAP Body/],
  ["a Header with content", withEr("0").replace(BODY_OPEN, `<SOAP-ENV:Header><h SOAP-ENV:mustUnderstand="1"/></SOAP-ENV:Header>` + BODY_OPEN), /Header with content/],
  ["an element before the Body", withEr("0").replace(BODY_OPEN, "<ns:x/>" + BODY_OPEN), /unexpected \{urn:zarafa\}x/],
  ["a Header after the Body", withEr("0").replace("</SOAP-ENV:Envelope>", "<SOAP-ENV:Header/></SOAP-ENV:Envelope>"), /after the SOAP Body/],
  ["a bare response without an envelope", DECL + `<ns:logonResponse xmlns:ns="urn:zarafa"><er>0</er></ns:logonResponse>`, /not a SOAP envelope/],
  ["an envelope in a made-up namespace", withEr("0").replaceAll(SOAP11, "http://example.org/soap/"), /not a SOAP envelope/],
  ["an HTML error page", "<html><body>er 0</body></html>", /not a SOAP envelope/],
  ["an empty body", "", /no root element/],
  ["a SOAP 1.1 fault with HTTP 200", FAULT11, /^SOAP fault: SOAP-ENV:Client Error -2147221245$/],
  ["a SOAP 1.2 fault with HTTP 200", FAULT12, /^SOAP fault: env:Receiver Error -2147221245$/],
  ["an undeclared prefix", withEr("0").replace("<er>0</er>", "<x:y/><er>0</er>"), /undeclared namespace prefix/],
  ["an undeclared prefix on an attribute", withEr("0").replace("<er>0</er>", "<er>0</er><y x:a='1'/>"), /undeclared namespace prefix/],
  ["a prefix used outside its scope", logonResponse(`<a xmlns:p="urn:p"/><p:b/><er>0</er>`), /undeclared namespace prefix/],
  ["a DOCTYPE with the billion laughs", DECL + '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' + withEr("&lol3;").slice(DECL.length), /DOCTYPE/],
  ["a DOCTYPE with an external entity", DECL + '<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + withEr("0").slice(DECL.length), /DOCTYPE/],
  ["an undefined entity", withEr("&zero;"), /undefined entity/],
  ["mismatched tags", logonResponse(`<er>0</ulSessionId>`), /mismatched end tag/],
  ["an unclosed element", withEr("0").replace("</ns:logonResponse>", ""), /mismatched end tag/],
  ["a truncated document", withEr("0").slice(0, -10), /malformed end tag/],
  ["a document cut after a start tag", withEr("0").slice(0, withEr("0").indexOf("<er>") + 4), /unclosed element/],
  ["a second root element", withEr("0") + "<x/>", /more than one root/],
  ["text after the root", withEr("0") + "er=0", /content after the root/],
  ["a processing instruction", withEr("0").replace(BODY_OPEN, "<?php echo 0; ?>" + BODY_OPEN), /processing instruction/],
  ["a stylesheet processing instruction before the root", DECL + '<?xml-stylesheet href="x"?>' + withEr("0").slice(DECL.length), /processing instruction/],
  ["an XML declaration not at the start", " " + withEr("0"), /processing instruction/],
  ["encoding ISO-8859-1", withEr("0").replace("UTF-8", "ISO-8859-1"), /encoding other than UTF-8/],
  ["encoding UTF-16", withEr("0").replace("UTF-8", "UTF-16"), /encoding other than UTF-8/],
  ["XML 1.1", withEr("0").replace('version="1.0"', 'version="1.1"'), /version other than 1.0/],
  ["'--' inside a comment", logonResponse(`<!-- a -- b --><er>0</er>`), /'--' inside a comment/],
  ["an unterminated comment", logonResponse(`<er>0</er><!-- `), /unterminated comment/],
  ["']]>' in text", logonResponse(`<er>0</er><x>]]></x>`), /']]>' in text/],
  ["'<' in an attribute value", logonResponse(`<er>0</er><x a="<"/>`), /'<' in attribute value/],
  ["a duplicate attribute", logonResponse(`<er>0</er><x a="1" a="2"/>`), /duplicate attribute/],
  ["a duplicate attribute after namespace resolution", logonResponse(`<er>0</er><x xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"/>`), /duplicate attribute after namespace/],
  ["a prefix bound to the empty namespace", logonResponse(`<er>0</er><x xmlns:p=""/>`), /empty namespace/],
  ["the xml prefix rebound", logonResponse(`<er>0</er><x xmlns:xml="urn:x"/>`), /xml prefix/],
  ["the xmlns prefix declared", logonResponse(`<er>0</er><x xmlns:xmlns="urn:x"/>`), /xmlns prefix/],
  ["a raw control character", logonResponse(`<er>0</er><x>\u0001</x>`), /not allowed in XML/],
  ["a reference to NUL", logonResponse(`<er>0</er><x>&#0;</x>`), /not allowed in XML/],
  ["a reference to U+FFFE", logonResponse(`<er>0</er><x>&#xFFFE;</x>`), /not allowed in XML/],
  ["a reference beyond U+10FFFF", logonResponse(`<er>0</er><x>&#x110000;</x>`), /out of range/],
  ["a huge decimal reference", logonResponse(`<er>0</er><x>&#99999999999999999999;</x>`), /out of range/],
  ["a malformed reference", logonResponse(`<er>0</er><x>&#x;</x>`), /malformed character reference/],
  ["a name starting with a digit", logonResponse(`<er>0</er><1x/>`), /missing name|malformed/],
  ["a name with two colons", logonResponse(`<er>0</er><a:b:c/>`), /malformed qualified name/],
];

/** Raw bytes that are not strict UTF-8. */
const utf8Broken: [string, number[]][] = [
  ["an overlong '0'", [0xc0, 0xb0]],
  ["a lone continuation byte", [0x80]],
  ["an encoded surrogate", [0xed, 0xa0, 0x80]],
  ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ["a truncated sequence", [0xe2, 0x82]],
  ["Latin-1 text", [0xe9]],
];
for (const [name, bytes] of utf8Broken) {
  const [a, b] = withEr("0").split("<lpszVersion>");
  refused.push([`${name} in a field`, Buffer.concat([Buffer.from(a + "<lpszVersion>"), Buffer.from(bytes), Buffer.from(b)]), /invalid UTF-8/]);
}

describe("hostile logon replies", () => {
  it.each(refused)("refuses %s", (_name, body, problem) => {
    const r = logon(body);
    expect(r.readable).toBe(false);
    expect(r.problem).toMatch(problem);
  });

  it("reads er 0 in a comment next to a real LOGON_FAILED as LOGON_FAILED", () => {
    expect(logon(logonResponse(`<!--<er>0</er>--><er>${LOGON_FAILED}</er>${REST}`))).toMatchObject({ readable: true, er: LOGON_FAILED });
    expect(logon(logonResponse(`<bogus><er>0</er></bogus><er>${LOGON_FAILED}</er>`))).toMatchObject({ readable: true, er: LOGON_FAILED });
    expect(logon(logonResponse(`<er>${LOGON_FAILED}</er><x><![CDATA[<er>0</er>]]></x>`))).toMatchObject({ readable: true, er: LOGON_FAILED });
  });

  it("refuses 10 000 nested elements without trapping", () => {
    const deep = "<a>".repeat(10_000) + "</a>".repeat(10_000);
    expect(logon(logonResponse(`<er>0</er>${deep}`))).toMatchObject({ readable: false, problem: expect.stringMatching(/deeper than 32/) });
    expect(xml("<a>".repeat(32) + "</a>".repeat(32))).toMatchObject({ ok: true });
    expect(xml("<a>".repeat(33) + "</a>".repeat(33))).toMatchObject({ ok: false, error: "elements nested deeper than 32" });
  });

  it("refuses 10 MB of text, and more than 256 KiB of text in a smaller body", () => {
    expect(logon(logonResponse(`<er>0</er><x>${"A".repeat(10 << 20)}</x>`))).toMatchObject({ readable: false, problem: expect.stringMatching(/larger than 1 MiB/) });
    expect(logon(logonResponse(`<er>0</er><x>${"A".repeat(300 << 10)}</x>`))).toMatchObject({ readable: false, problem: expect.stringMatching(/256 KiB of text/) });
    expect(logon(logonResponse(`<er>0</er><x a="${"A".repeat(300 << 10)}"/>`))).toMatchObject({ readable: false, problem: expect.stringMatching(/256 KiB of text/) });
    expect(xml(`<x>${"&amp;".repeat(200 << 10)}</x>`)).toMatchObject({ ok: true }); // 1 MB of input, 200 KiB of text
  });

  it("enforces the element, attribute and name limits", () => {
    expect(xml(`<r>${"<e/>".repeat(4095)}</r>`)).toMatchObject({ ok: true });
    expect(xml(`<r>${"<e/>".repeat(4096)}</r>`)).toMatchObject({ ok: false, error: "more than 4096 elements" });
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}="v"`).join("");
    expect(xml(`<r${attrs(32)}/>`)).toMatchObject({ ok: true });
    expect(xml(`<r${attrs(33)}/>`)).toMatchObject({ ok: false, error: "more than 32 attributes on an element" });
    expect(xml(`<r>${`<e${attrs(32)}/>`.repeat(32)}</r>`)).toMatchObject({ ok: true });
    expect(xml(`<r a="1">${`<e${attrs(32)}/>`.repeat(32)}</r>`)).toMatchObject({ ok: false, error: "more than 1024 attributes" });
    expect(xml(`<${"n".repeat(256)}/>`)).toMatchObject({ ok: true });
    expect(xml(`<${"n".repeat(257)}/>`)).toMatchObject({ ok: false, error: "name longer than 256 bytes" });
  });

  it("never reads er 0 from a real success reply cut at any byte", () => {
    const full = LOGON_OK;
    const end = full.indexOf("</SOAP-ENV:Envelope>") + "</SOAP-ENV:Envelope>".length;
    for (let n = 0; n < full.length; n++) {
      const r = logon(full.subarray(0, n));
      if (n < end) expect(r.readable, `cut at ${n}`).toBe(false);
      else expect(r, `cut at ${n}`).toMatchObject({ readable: true, er: 0 }); // only trailing whitespace lost
    }
  });

  it("never reads a wrapped (ZCP 7.1) or getUser reply cut at any byte", () => {
    const zarafa = readFileSync(path.join(wireDir, "generated/Zarafa719.logon.res.xml"));
    const zEnd = zarafa.lastIndexOf(">") + 1;
    for (let n = 0; n < zEnd; n++) expect(logon(zarafa.subarray(0, n)).readable, `cut at ${n}`).toBe(false);
    const user = Buffer.from(GETUSER_ALICE);
    const uEnd = user.lastIndexOf(">") + 1;
    for (let n = 0; n < uEnd; n++) expect(getUser(user.subarray(0, n)).readable, `cut at ${n}`).toBe(false);
  });

  it("keeps fault text short and free of control characters", () => {
    const long = env(`<SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>a&#x9b;31m${"x".repeat(500)}</faultstring></SOAP-ENV:Fault>`);
    const f = fault(long);
    expect(f.readable).toBe(true);
    expect(f.text).toMatch(/^a\?31mx+\.\.\.$/);
    expect(f.text.length).toBeLessThanOrEqual(203);
    expect(logon(long).problem.length).toBeLessThanOrEqual(203);
    expect(logon(long).problem).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it("refuses faults it cannot read and envelope-version mixes", () => {
    expect(fault(env("<SOAP-ENV:Fault><faultstring>x</faultstring></SOAP-ENV:Fault>"))).toMatchObject({ readable: false, problem: "SOAP fault without faultcode" });
    expect(fault(FAULT12.replace("<env:Code><env:Value>env:Receiver</env:Value></env:Code>", ""))).toMatchObject({ readable: false });
    expect(fault(env(`<e:Fault xmlns:e="${SOAP12}"><e:Code><e:Value>e:Sender</e:Value></e:Code></e:Fault>`))).toMatchObject({ readable: false });
    expect(fault("<html/>")).toMatchObject({ readable: false });
  });
});

describe("hostile getUser and logoff replies", () => {
  it.each<[string, string, RegExp]>([
    ["a property listed twice", userResponse(USER + `<lpsMVPropmap>${mvItem(DISABLED, ["imap"])}${mvItem(DISABLED, [])}</lpsMVPropmap>`), /listed twice/],
    ["an array shorter than declared", userResponse(USER + `<lpsMVPropmap>${mvItem(DISABLED, ["imap"], 2)}</lpsMVPropmap>`), /different number/],
    ["an unreadable arrayType", userResponse(USER + `<lpsMVPropmap>${mvItem(DISABLED, ["imap"]).replace("xsd:string[1]", "xsd:int[1]")}</lpsMVPropmap>`), /arrayType/],
    ["another attribute on sValues", userResponse(USER + `<lpsMVPropmap>${mvItem(DISABLED, ["imap"]).replace("<sValues", '<sValues id="x"')}</lpsMVPropmap>`), /attribute on sValues/],
    ["a non-item in lpsMVPropmap", userResponse(USER + `<lpsMVPropmap><bogus/></lpsMVPropmap>`), /unexpected \{\}bogus in lpsMVPropmap/],
    ["a non-item in sValues", userResponse(USER + `<lpsMVPropmap><item><ulPropId>${DISABLED}</ulPropId><sValues><x>imap</x></sValues></item></lpsMVPropmap>`), /in sValues/],
    ["an item without sValues", userResponse(USER + `<lpsMVPropmap><item><ulPropId>${DISABLED}</ulPropId></item></lpsMVPropmap>`), /without ulPropId or sValues/],
    ["a feature with a child element", userResponse(USER + `<lpsMVPropmap>${mvItem(DISABLED, ["<b>imap</b>"])}</lpsMVPropmap>`), /child elements in item/],
    ["a user name with a C1 control", userResponse("<lpszUsername>al&#x85;ice</lpszUsername><ulObjClass>65537</ulObjClass>"), /lpszUsername contains control/],
    ["no lpszUsername", userResponse("<ulObjClass>65537</ulObjClass>"), /no lpszUsername/],
    ["no ulObjClass", userResponse("<lpszUsername>alice</lpszUsername>"), /no ulObjClass/],
    ["er 0 without lpsUser", env("<ns:getUserResponse><er>0</er></ns:getUserResponse>"), /without lpsUser/],
    ["two lpsUser", env(`<ns:getUserResponse><lpsUser>${USER}</lpsUser><lpsUser>${USER}</lpsUser><er>0</er></ns:getUserResponse>`), /duplicate field lpsUser/],
    ["lpsUser in both layouts", env(`<ns:getUserResponse><lpsUser>${USER}</lpsUser><lpsUserGetResponse><er>0</er></lpsUserGetResponse></ns:getUserResponse>`), /both inside and outside/],
    ["xsi:nil on lpsUser", env(`<ns:getUserResponse><lpsUser xsi:nil="true"/><er>0</er></ns:getUserResponse>`), /attribute on lpsUser/],
    ["text in lpsUser", userResponse(USER + "text"), /text in lpsUser/],
    ["a logon reply", withEr("0"), /unexpected response element/],
  ])("refuses %s", (_name, body, problem) => {
    const r = getUser(body);
    expect(r.readable).toBe(false);
    expect(r.problem).toMatch(problem);
  });

  it.each<[string, string, RegExp]>([
    ["no result", env("<ns:logoffResponse></ns:logoffResponse>"), /no result/],
    ["er instead of result", env("<ns:logoffResponse><er>0</er></ns:logoffResponse>"), /no result/],
    ["a non-numeric result", env("<ns:logoffResponse><result>ok</result></ns:logoffResponse>"), /result is not/],
    ["two results", env("<ns:logoffResponse><result>0</result><result>0</result></ns:logoffResponse>"), /duplicate field result/],
  ])("refuses a logoff reply with %s", (_name, body, problem) => {
    expect(logoff(body)).toMatchObject({ readable: false, problem: expect.stringMatching(problem) });
  });
});

// ---- through the real guest export ------------------------------------------------------------------------

/** The verdict of `authenticate` for alice against one server whose replies are `replies`, in order. */
async function verdictFor(replies: (string | Uint8Array | Reply)[], args: string[] = []): Promise<Code> {
  const queue = replies.map((r) => (typeof r === "string" ? { status: 200, body: enc.encode(r) } : r instanceof Uint8Array ? { status: 200, body: r } : r));
  const guest = await loadGuest({ post: () => queue.shift() ?? { tag: "err", val: "closed" } });
  const settings = ["socket=http://127.0.0.1:1/", ...args];
  return guest.authenticate("smtp", "alice", enc.encode("Secr3t!"), settings, new Uint8Array(), "192.0.2.7").code;
}
const LOGOFF_OK = kopano11("tcp-d-logoff.resp.raw");

describe("verdicts through the guest's authenticate export", () => {
  it("a captured er 0 reply is success and LOGON_FAILED is auth-err", async () => {
    expect(await verdictFor([LOGON_OK])).toBe("success");
    expect(await verdictFor([session.replies[0]])).toBe("success");
    expect(await verdictFor([kopano11("real-client-logon.resp.raw")])).toBe("success");
    expect(await verdictFor([readFileSync(path.join(wireDir, "generated/Zarafa719.logon.res.xml")), LOGOFF_OK])).toBe("success");
    expect(await verdictFor([LOGON_FAILED_BODY])).toBe("auth-err");
    expect(await verdictFor([kopano11("tcp-c-logon-unknown-user.resp.raw")])).toBe("auth-err");
  });

  it("a captured getUser reply decides the feature check", async () => {
    expect(await verdictFor([LOGON_OK, GETUSER_ALICE, LOGOFF_OK], ["service=webapp"])).toBe("success");
    expect(await verdictFor([LOGON_OK, GETUSER_ALICE, LOGOFF_OK], ["service=imap|pop3"])).toBe("perm-denied");
  });

  it("er 0 hidden next to a real LOGON_FAILED is auth-err", async () => {
    expect(await verdictFor([logonResponse(`<!--<er>0</er>--><er>${LOGON_FAILED}</er>${REST}`)])).toBe("auth-err");
    expect(await verdictFor([logonResponse(`<bogus><er>0</er></bogus><er>${LOGON_FAILED}</er>`)])).toBe("auth-err");
  });

  it.each(refused)("%s is never success", async (_name, body) => {
    expect(await verdictFor([body])).toBe("authinfo-unavail");
  });

  it("the largest trees the limits allow are read without exhausting the guest's memory", async () => {
    const attrs = Array.from({ length: 32 }, (_, i) => ` a${i}="v"`).join("");
    expect(await verdictFor([logonResponse(`<er>0</er>${`<${"n".repeat(256)}/>`.repeat(4000)}`)])).toBe("success");
    expect(await verdictFor([logonResponse(`<er>0</er>${`<e${attrs}/>`.repeat(31)}<x>${"y".repeat(250 << 10)}</x>`)])).toBe("success");
    expect(await verdictFor([logonResponse(`<er>0</er>${`<e${attrs}/>`.repeat(4000)}`)])).toBe("authinfo-unavail");
  });

  it("deep nesting, 10 MB and 300 KiB of text are never success", async () => {
    expect(await verdictFor([logonResponse(`<er>0</er>${"<a>".repeat(10_000)}${"</a>".repeat(10_000)}`)])).toBe("authinfo-unavail");
    expect(await verdictFor([logonResponse(`<er>0</er><x>${"A".repeat(10 << 20)}</x>`)])).toBe("authinfo-unavail");
    expect(await verdictFor([logonResponse(`<er>0</er><x>${"A".repeat(300 << 10)}</x>`)])).toBe("authinfo-unavail");
  });

  it("a real success reply cut at any byte is never success", async () => {
    const end = LOGON_OK.indexOf("</SOAP-ENV:Envelope>") + "</SOAP-ENV:Envelope>".length;
    for (let n = 0; n < end; n++) expect(await verdictFor([LOGON_OK.subarray(0, n)]), `cut at ${n}`).toBe("authinfo-unavail");
  });

  it("the captured er 0 reply with HTTP 500 is never success", async () => {
    expect(await verdictFor([{ status: 500, body: LOGON_OK }])).toBe("authinfo-unavail");
  });

  it("hostile getUser replies never pass a feature check", async () => {
    const hostile = [
      userResponse(USER + `<lpsMVPropmap>${mvItem(DISABLED, ["imap"])}${mvItem(DISABLED, [])}</lpsMVPropmap>`),
      env(`<ns:getUserResponse><er>0</er></ns:getUserResponse>`),
      env(`<ns:getUserResponse><lpsUser>${USER}</lpsUser><er>0</er><er>0</er></ns:getUserResponse>`),
      GETUSER_ALICE.subarray(0, GETUSER_ALICE.length - 30),
    ];
    for (const h of hostile) expect(await verdictFor([LOGON_OK, h, LOGOFF_OK], ["service=imap"])).toBe("authinfo-unavail");
  });
});

// ---- the XML tree itself ------------------------------------------------------------------------------------

describe("XML reader", () => {
  it("resolves namespaces per element scope and keeps attributes apart from declarations", () => {
    const r = xml(`<a xmlns="urn:d" xmlns:p="urn:p" p:x="1" y="2"><p:b xmlns:p="urn:q"/><c xmlns=""/><p:d xml:lang="en"/></a>`);
    expect(r).toEqual({
      ok: true,
      root: {
        ns: "urn:d", local: "a", attributes: [["urn:p", "x", "1"], ["", "y", "2"]], text: "", mixed: false, children: [
          { ns: "urn:q", local: "b", attributes: [], text: "", mixed: false, children: [] },
          { ns: "", local: "c", attributes: [], text: "", mixed: false, children: [] },
          { ns: "urn:p", local: "d", attributes: [["http://www.w3.org/XML/1998/namespace", "lang", "en"]], text: "", mixed: false, children: [] },
        ],
      },
    });
  });

  it("decodes references, CDATA and line ends, and normalises attribute whitespace", () => {
    const r = xml(`<a v="x&#9;y\tz\r\nw &lt;&amp;&gt;&quot;&apos;">1&lt;2 &#x20AC;&#8364; <![CDATA[<&>]]>\r\nend\rx</a>`);
    expect(r).toMatchObject({ ok: true, root: { attributes: [["", "v", "x\ty z w <&>\"'"]], text: "1<2 €€ <&>\nend\nx" } });
  });

  it("tracks mixed content", () => {
    expect(xml("<a> <b/> </a>")).toMatchObject({ ok: true, root: { text: "  ", mixed: false } });
    expect(xml("<a> x<b/></a>")).toMatchObject({ ok: true, root: { text: " x", mixed: true } });
    expect(xml("<a>&#32;<b/>&#x0A;</a>")).toMatchObject({ ok: true, root: { mixed: false } });
  });

  it("reports where it stopped", () => {
    expect(xml("<a></b>")).toEqual({ ok: false, error: "mismatched end tag", offset: 6 });
  });
});

describe("errorName", () => {
  it.each<[number, string]>([
    [0, "KCERR_NONE"],
    [0x80000009, "KCERR_LOGON_FAILED"],
    [0x80000010, "KCERR_END_OF_SESSION"],
    [0x80000021, "KCERR_INVALID_VERSION"],
    [0x80000031, "KCERR_BAD_CHARWIDTH"],
    [0x80040103, "MAPI_E_BAD_CHARWIDTH"],
    [0x8000001d, "KCERR_PLUGIN_ERROR"],
    [0x80000030, "KCERR_UNCONFIGURED"],
    [0x80000006, "0x80000006"],
    [0xdeadbeef, "0xDEADBEEF"],
    [1, "0x00000001"],
  ])("%i is %s", (er, name) => {
    expect(errorName(er)).toBe(name);
  });
});
