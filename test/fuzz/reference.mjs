// An independent reading of Kopano's logon, getUser and logoff replies, for the fuzzer and the injection tests.
// It shares no code with assembly/: the XML is parsed by @xmldom/xmldom (made strict: any warning or error means
// "unreadable"), and the shape rules are the documented ones (kopano-soap.md §1.3–1.6, §5.2; assembly/reply.ts
// follows the same text). It answers what a reply really says, or `readable: false`.
import { DOMParser } from "@xmldom/xmldom";

export const SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";
export const SOAP12 = "http://www.w3.org/2003/05/soap-envelope";
export const SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/";
export const ZARAFA = "urn:zarafa";
export const XMLNS = "http://www.w3.org/2000/xmlns/";
export const ER_NONE = 0;
export const ER_LOGON_FAILED = 0x80000009;
export const PR_EC_ENABLED_FEATURES_A = 1739788318;
export const PR_EC_DISABLED_FEATURES_A = 1739853854;

class Unreadable extends Error {}
const fail = (why) => {
  throw new Unreadable(why);
};

const ELEMENT = 1, TEXT = 3, CDATA = 4, PI = 7, COMMENT = 8, DOCTYPE = 10;
const DECLARATION =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.0\1([ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])utf-8\3)?([ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(yes|no)\5)?[ \t\r\n]*\?>/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
/** xmldom normalises NEL and LINE SEPARATOR to LF as XML 1.1 does; XML 1.0 (what gSOAP and the guest read) keeps
 * them. Writing them as character references, which XML never normalises, gives the XML 1.0 reading. */
export const asXml10 = (text) => text.replace(/[\u0085\u2028]/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`);
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Strict parse of the bytes: UTF-8 only, no DTD, no processing instruction other than the declaration. */
function parse(bytes) {
  if (bytes.length > 1 << 20) fail("over 1 MiB");
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    fail("not UTF-8");
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(text)) fail("character not allowed in XML");
  const declared = /^<\?xml[ \t\r\n]/.test(text);
  if (declared && !DECLARATION.test(text)) fail("malformed XML declaration");
  const problems = [];
  let doc;
  try {
    doc = new DOMParser({
      locator: {},
      errorHandler: { warning: (m) => problems.push(m), error: (m) => problems.push(m), fatalError: (m) => problems.push(m) },
    }).parseFromString(asXml10(text), "text/xml");
  } catch (e) {
    fail("xmldom: " + e.message); // xmldom throws DOMExceptions for some malformed documents
  }
  if (problems.length > 0) fail("xmldom: " + problems[0]);
  let root = null;
  for (let n = doc.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === DOCTYPE) fail("DOCTYPE");
    if (n.nodeType === PI && !(n.target === "xml" && declared && n === doc.firstChild)) fail("processing instruction");
    if (n.nodeType === ELEMENT) {
      if (root) fail("two roots");
      root = n;
    }
    if (n.nodeType === TEXT && /\S/.test(n.data)) fail("text outside the root");
  }
  if (!root) fail("no root");
  checkTree(root, 1, { elements: 0 });
  return root;
}

/** Undeclared prefixes, PIs inside, and the documented size limits. */
function checkTree(e, depth, count) {
  if (depth > 32) fail("too deep");
  if (++count.elements > 4096) fail("too many elements");
  if (e.prefix && !e.namespaceURI) fail("undeclared prefix");
  for (let k = 0; k < e.attributes.length; k++) {
    const a = e.attributes[k];
    if (a.prefix && a.prefix !== "xmlns" && !a.namespaceURI) fail("undeclared attribute prefix");
    if (a.prefix === "xmlns" && a.value === "") fail("prefix bound to empty namespace");
    if (CONTROL.test(a.value)) fail("reference to a character not allowed in XML");
  }
  for (let n = e.firstChild; n; n = n.nextSibling) {
    if ((n.nodeType === TEXT || n.nodeType === CDATA) && CONTROL.test(n.data)) fail("reference to a character not allowed in XML");
    if (n.nodeType === PI) fail("processing instruction");
    if (n.nodeType === ELEMENT) checkTree(n, depth + 1, count);
  }
}

const elements = (e) => {
  const out = [];
  for (let n = e.firstChild; n; n = n.nextSibling) if (n.nodeType === ELEMENT) out.push(n);
  return out;
};
/** Attributes other than namespace declarations. */
const attributes = (e) => {
  const out = [];
  for (let k = 0; k < e.attributes.length; k++) {
    const a = e.attributes[k];
    if (a.namespaceURI === XMLNS || a.name === "xmlns" || a.name.startsWith("xmlns:")) continue;
    out.push(a);
  }
  return out;
};
const textOf = (e) => {
  let s = "";
  for (let n = e.firstChild; n; n = n.nextSibling) if (n.nodeType === TEXT || n.nodeType === CDATA) s += n.data;
  return s;
};
const hasText = (e) => /[^ \t\r\n]/.test(textOf(e));
const ns = (e) => e.namespaceURI ?? "";

/** The one element in the Body of a well-shaped SOAP envelope. */
function bodyChild(root) {
  if (root.localName !== "Envelope" || (ns(root) !== SOAP11 && ns(root) !== SOAP12)) fail("not an envelope");
  if (hasText(root)) fail("text in Envelope");
  const parts = elements(root);
  let k = 0;
  if (parts[k] && ns(parts[k]) === ns(root) && parts[k].localName === "Header") {
    if (elements(parts[k]).length > 0 || hasText(parts[k])) fail("Header with content");
    k++;
  }
  const body = parts[k];
  if (!body || ns(body) !== ns(root) || body.localName !== "Body") fail("no Body");
  if (parts.length !== k + 1) fail("after Body");
  if (hasText(body)) fail("text in Body");
  const kids = elements(body);
  if (kids.length !== 1) fail("Body does not hold one element");
  return kids[0];
}

function response(root, name) {
  const e = bodyChild(root);
  if (ns(e) !== ZARAFA || e.localName !== name) fail("wrong response element");
  for (const a of attributes(e)) {
    if (a.localName !== "encodingStyle" || (a.namespaceURI !== SOAP11 && a.namespaceURI !== SOAP12)) fail("attribute");
  }
  if (hasText(e)) fail("text in response");
  return e;
}

function plain(e) {
  if (attributes(e).length > 0) fail("attribute on struct");
  if (hasText(e)) fail("text in struct");
  return e;
}

/** Known unqualified fields among the children; a qualified or repeated known field is unreadable. */
function fieldsOf(struct, names) {
  const found = {};
  for (const c of elements(struct)) {
    if (!names.includes(c.localName)) continue;
    if (ns(c) !== "") fail("qualified field");
    if (found[c.localName]) fail("duplicate field");
    found[c.localName] = c;
  }
  return found;
}

function wrappedFields(resp, wrapper, names) {
  const direct = fieldsOf(resp, [...names, wrapper]);
  if (!direct[wrapper]) return direct;
  if (names.some((n) => direct[n])) fail("fields inside and outside the wrapper");
  return fieldsOf(plain(direct[wrapper]), names);
}

function leaf(e) {
  if (attributes(e).length > 0) fail("attribute on a leaf");
  if (elements(e).length > 0) fail("element in a leaf");
  return textOf(e);
}

function number(e, bits) {
  const t = leaf(e);
  if (!/^[0-9]+$/.test(t) || t.length > (bits === 32 ? 10 : 20)) fail("not a number");
  const v = BigInt(t);
  if (v >= 1n << BigInt(bits)) fail("out of range");
  return v;
}

function string(e) {
  const t = leaf(e);
  if (Buffer.byteLength(t, "utf8") > 256) fail("too long");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(t)) fail("control character");
  return t;
}

function guarded(read) {
  try {
    return { readable: true, ...read() };
  } catch (e) {
    if (e instanceof Unreadable) return { readable: false, why: e.message };
    throw e;
  }
}

/** { readable, er, sessionId (BigInt), version } */
export function referenceLogon(bytes) {
  return guarded(() => {
    const f = wrappedFields(response(parse(bytes), "logonResponse"), "lpsLogonResponse",
      ["er", "ulSessionId", "lpszVersion", "ulCapabilities"]);
    if (!f.er) fail("no er");
    const out = { er: Number(number(f.er, 32)), sessionId: 0n, version: "" };
    if (f.ulSessionId) out.sessionId = number(f.ulSessionId, 64);
    if (f.lpszVersion) out.version = string(f.lpszVersion);
    if (f.ulCapabilities) number(f.ulCapabilities, 32);
    return out;
  });
}

/** { readable, er, username, enabled, disabled } (lists null when absent). */
export function referenceGetUser(bytes) {
  return guarded(() => {
    const f = wrappedFields(response(parse(bytes), "getUserResponse"), "lpsUserGetResponse", ["er", "lpsUser"]);
    if (!f.er) fail("no er");
    const out = { er: Number(number(f.er, 32)), username: "", enabled: null, disabled: null };
    if (!f.lpsUser) {
      if (out.er === 0) fail("no lpsUser");
      return out;
    }
    const u = fieldsOf(plain(f.lpsUser), ["lpszUsername", "ulObjClass", "lpsMVPropmap"]);
    if (!u.lpszUsername) fail("no lpszUsername");
    out.username = string(u.lpszUsername);
    if (!u.ulObjClass) fail("no ulObjClass");
    number(u.ulObjClass, 32);
    if (u.lpsMVPropmap) {
      const seen = new Set();
      for (const item of elements(plain(u.lpsMVPropmap))) {
        if (ns(item) !== "" || item.localName !== "item") fail("not an item");
        const g = fieldsOf(plain(item), ["ulPropId", "sValues"]);
        if (!g.ulPropId || !g.sValues) fail("incomplete item");
        const id = Number(number(g.ulPropId, 32));
        if (seen.has(id)) fail("property twice");
        seen.add(id);
        const values = stringArray(g.sValues);
        if (id === PR_EC_ENABLED_FEATURES_A) out.enabled = values;
        if (id === PR_EC_DISABLED_FEATURES_A) out.disabled = values;
      }
    }
    return out;
  });
}

function stringArray(arr) {
  let declared = -1;
  for (const a of attributes(arr)) {
    if (a.namespaceURI !== SOAP_ENC || a.localName !== "arrayType") fail("attribute on sValues");
    const m = /^(?:[^:[]*:)?string\[([0-9]{1,4})\]$/.exec(a.value);
    if (!m) fail("arrayType");
    declared = Number(m[1]);
  }
  if (hasText(arr)) fail("text in sValues");
  const values = [];
  for (const item of elements(arr)) {
    if (ns(item) !== "" || item.localName !== "item") fail("not an item");
    values.push(string(item));
  }
  if (declared >= 0 && declared !== values.length) fail("count");
  return values;
}

/** Kopano ≥ 8.5 honours NO_REGISTER_SESSION ("0,MAJOR,MINOR,…"); anything else is treated as older. */
export function knowsNoRegisterSession(version) {
  const parts = version.split(",");
  if (parts.length < 3 || parts[0] !== "0") return false;
  const num = (s) => (/^[0-9]{1,6}$/.test(s) ? Number(s) : -1);
  const major = num(parts[1]), minor = num(parts[2]);
  if (major < 0 || minor < 0) return false;
  return major > 8 || (major === 8 && minor >= 5);
}

// The request bodies the client must send (kopano-soap.md §2.1, §2.6): written out here, not taken from assembly/.
const HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" ' +
  'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" ' +
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ' +
  'xmlns:xop="http://www.w3.org/2004/08/xop/include" xmlns:xmlmime="http://www.w3.org/2004/11/xmlmime" ' +
  'xmlns:ns="urn:zarafa"><SOAP-ENV:Body SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">';
const TAIL = "</SOAP-ENV:Body></SOAP-ENV:Envelope>";
export const expectedLogoff = (id) => `${HEAD}<ns:logoff><ulSessionId>${id}</ulSessionId></ns:logoff>${TAIL}`;
export const expectedGetUser = (id) =>
  `${HEAD}<ns:getUser><ulSessionId>${id}</ulSessionId><ulUserId>0</ulUserId><sUserId></sUserId></ns:getUser>${TAIL}`;

/** What the `logon` request carries, read with xmldom: user name and password text, flags. */
export function readLogonRequest(body) {
  const doc = new DOMParser({ errorHandler: { warning: () => {}, error: (m) => { throw new Error(m); }, fatalError: (m) => { throw new Error(m); } } })
    .parseFromString(asXml10(body), "text/xml");
  const logon = doc.getElementsByTagNameNS(ZARAFA, "logon");
  if (logon.length !== 1) throw new Error("not exactly one ns:logon");
  const f = {};
  for (const c of elements(logon[0])) {
    if (f[c.localName] !== undefined) throw new Error(`duplicate ${c.localName}`);
    f[c.localName] = textOf(c);
  }
  return { fields: Object.keys(f), user: f.szUsername, password: f.szPassword, flags: f.ulFlags };
}
