// Readers for the SOAP replies of ns:logon, ns:getUser and ns:logoff, and for SOAP faults. They accept exactly the
// shapes Kopano and Zarafa servers send (kopano-soap.md §1.3–1.6, §2, §5.2, §10) and refuse anything ambiguous:
// a reply that is not fully understood comes back with `readable` false, never as a success.
import { Bytes } from "./bytes";
import { isControl, utf8CodePoint, utf8SequenceLength } from "./utf8";
import { parseXml, XmlElement } from "./xml";

export const SOAP11_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/";
export const SOAP12_ENVELOPE = "http://www.w3.org/2003/05/soap-envelope";
export const SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/";
export const ZARAFA_NAMESPACE = "urn:zarafa";

/** PROP_TAG(PT_MV_STRING8, 0x67B3) and 0x67B4: the per-user feature lists (kopano-soap.md §5.1). */
export const PR_EC_ENABLED_FEATURES_A: u32 = 1739788318;
export const PR_EC_DISABLED_FEATURES_A: u32 = 1739853854;

const MAX_PROBLEM: i32 = 200;
const MAX_STRING_FIELD: i32 = 256; // bytes; user names, versions and feature names are far shorter

export class LogonReply {
  readable: bool = false;
  problem: string = "";
  er: u32 = 0;
  sessionId: u64 = 0;
  serverVersion: string = "";
  capabilities: u32 = 0;
}

/** One `lpsMVPropmap` item: a property id and its string values, kept whole so setUser can send it back. */
export class MvProp {
  constructor(public propId: u32, public values: Array<string>) {}
}

export class UserReply {
  readable: bool = false;
  problem: string = "";
  er: u32 = 0;
  /** 0 when the reply did not carry ulUserId */
  userId: u32 = 0;
  username: string = "";
  /** every item of lpsMVPropmap in reply order; empty when there was none */
  mvProps: Array<MvProp> = new Array<MvProp>();
  objClass: u32 = 0;
  enabled: Array<string> | null = null;
  disabled: Array<string> | null = null;
}

export class LogoffReply {
  readable: bool = false;
  problem: string = "";
  result: u32 = 0;
}

export class FaultReply {
  readable: bool = false;
  problem: string = "";
  code: string = "";
  text: string = "";
}

/** Replace control characters and cut to `max` characters, so server-supplied text is safe in a log line. */
export function sanitize(s: string, max: i32 = MAX_PROBLEM): string {
  let out = "";
  const n = s.length < max ? s.length : max;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    out += isControl(<u32>c) ? "?" : String.fromCharCode(c);
  }
  return s.length > max ? out + "..." : out;
}

/** Accumulates the first problem found while reading one reply. */
class Reading {
  problem: string = "";
  /** The envelope's namespace, once known: SOAP 1.1 or 1.2. */
  envNs: string = "";

  fail(what: string): bool {
    if (this.problem.length == 0) this.problem = sanitize(what);
    return false;
  }

  get ok(): bool {
    return this.problem.length == 0;
  }
}

function describe(e: XmlElement): string {
  return "{" + e.ns + "}" + e.local;
}

/** The single element inside the Body, after checking Envelope, Header and Body; null with a problem otherwise. */
function bodyElement(body: Bytes, r: Reading): XmlElement | null {
  const doc = parseXml(body);
  if (!doc.ok) {
    r.fail("malformed XML at byte " + doc.errorOffset.toString() + ": " + doc.error);
    return null;
  }
  const env = doc.root!;
  if (env.local != "Envelope" || (env.ns != SOAP11_ENVELOPE && env.ns != SOAP12_ENVELOPE)) {
    r.fail("root element " + describe(env) + " is not a SOAP envelope");
    return null;
  }
  if (env.hasNonWhitespaceText) {
    r.fail("text in the SOAP Envelope");
    return null;
  }
  r.envNs = env.ns;
  const parts = env.children;
  let k = 0;
  if (k < parts.length && parts[k].ns == env.ns && parts[k].local == "Header") {
    const header = parts[k];
    if (header.children.length > 0 || header.hasNonWhitespaceText) {
      r.fail("SOAP Header with content");
      return null;
    }
    k++;
  }
  if (k >= parts.length || parts[k].ns != env.ns || parts[k].local != "Body") {
    r.fail(k < parts.length ? "unexpected " + describe(parts[k]) + " in the SOAP Envelope" : "no SOAP Body");
    return null;
  }
  const soapBody = parts[k];
  if (k + 1 < parts.length) {
    r.fail("unexpected " + describe(parts[k + 1]) + " after the SOAP Body");
    return null;
  }
  if (soapBody.hasNonWhitespaceText) {
    r.fail("text in the SOAP Body");
    return null;
  }
  if (soapBody.children.length != 1) {
    r.fail(soapBody.children.length == 0 ? "empty SOAP Body" : "more than one element in the SOAP Body");
    return null;
  }
  return soapBody.children[0];
}

/** The {urn:zarafa}`name` response element, checked; a Fault becomes the problem "SOAP fault: code text". */
function responseElement(body: Bytes, name: string, r: Reading): XmlElement | null {
  const e = bodyElement(body, r);
  if (e == null) return null;
  if (e.local == "Fault" && (e.ns == SOAP11_ENVELOPE || e.ns == SOAP12_ENVELOPE)) {
    const fault = readFaultElement(e);
    r.fail(fault.readable ? "SOAP fault: " + fault.code + " " + fault.text : "unreadable SOAP fault: " + fault.problem);
    return null;
  }
  if (e.ns != ZARAFA_NAMESPACE || e.local != name) {
    r.fail("unexpected response element " + describe(e) + ", wanted {urn:zarafa}" + name);
    return null;
  }
  for (let k = 0; k < e.attributes.length; k++) {
    const a = e.attributes[k];
    if (a.local != "encodingStyle" || (a.ns != SOAP11_ENVELOPE && a.ns != SOAP12_ENVELOPE)) {
      r.fail("unexpected attribute on " + name);
      return null;
    }
  }
  if (!isStruct(e, name, r)) return null;
  return e;
}

/** A struct element: no attributes unless allowed by the caller, no text next to its fields. */
function isStruct(e: XmlElement, name: string, r: Reading): bool {
  if (e.hasNonWhitespaceText) return r.fail("text in " + name);
  return true;
}

function plainStruct(e: XmlElement, name: string, r: Reading): bool {
  if (e.attributes.length > 0) return r.fail("attribute on " + name);
  return isStruct(e, name, r);
}

/**
 * The known fields among the direct children of `struct`: unqualified elements named in `names`. Unknown
 * elements are skipped (as gSOAP does); a known name in some namespace, or a known field twice, is refused.
 */
function fields(struct: XmlElement, names: Array<string>, r: Reading): Array<XmlElement | null> {
  const found = new Array<XmlElement | null>(names.length);
  for (let k = 0; k < names.length; k++) found[k] = null;
  const kids = struct.children;
  for (let k = 0; k < kids.length; k++) {
    const c = kids[k];
    const idx = names.indexOf(c.local);
    if (idx < 0) continue;
    if (c.ns.length > 0) {
      r.fail("qualified field " + describe(c));
      continue;
    }
    if (found[idx] != null) {
      r.fail("duplicate field " + c.local);
      continue;
    }
    found[idx] = c;
  }
  return found;
}

/** A scalar field: no attributes (so no xsi:nil, no href), no child elements. */
function leafText(e: XmlElement, r: Reading): Bytes | null {
  if (e.attributes.length > 0) {
    r.fail("attribute on " + e.local);
    return null;
  }
  if (e.children.length > 0) {
    r.fail("child elements in " + e.local);
    return null;
  }
  return e.text();
}

/** Plain unsigned decimal of at most `maxDigits` digits and at most `max`; -1 (as i64 sentinel) on error. */
function decimal(e: XmlElement, maxDigits: i32, max: u64, r: Reading): u64 {
  const t = leafText(e, r);
  if (t == null) return 0;
  const b = t!;
  if (b.len == 0 || b.len > maxDigits) {
    r.fail(e.local + " is not an unsigned number in range");
    return 0;
  }
  let v: u64 = 0;
  for (let k = 0; k < b.len; k++) {
    const c = <u64>b.at(k);
    if (c < 0x30 || c > 0x39) {
      r.fail(e.local + " is not a plain decimal number");
      return 0;
    }
    const d = c - 0x30;
    if (v > (max - d) / 10) {
      r.fail(e.local + " is out of range");
      return 0;
    }
    v = v * 10 + d;
  }
  return v;
}

function readU32(e: XmlElement, r: Reading): u32 {
  return <u32>decimal(e, 10, 0xffffffff, r);
}

function readU64(e: XmlElement, r: Reading): u64 {
  return decimal(e, 20, 0xffffffffffffffff, r);
}

/** A string field: strict UTF-8 (the XML reader guarantees it), no control characters, bounded. */
function readString(e: XmlElement, r: Reading): string {
  const t = leafText(e, r);
  if (t == null) return "";
  const b = t!;
  if (b.len > MAX_STRING_FIELD) {
    r.fail(e.local + " is too long");
    return "";
  }
  let k = 0;
  while (k < b.len) {
    const n = utf8SequenceLength(b, k);
    if (n == 0) unreachable(); // the XML reader only stores valid UTF-8
    if (isControl(utf8CodePoint(b, k, n))) {
      r.fail(e.local + " contains control characters");
      return "";
    }
    k += n;
  }
  return b.toText();
}

/**
 * The fields of a response, directly under it (gSOAP ≥ 2.8, ZCP ≥ 7.2, Kopano) or inside exactly one wrapper
 * element (ZCP ≤ 7.1: `lpsLogonResponse`, `lpsUserGetResponse`), never both.
 */
function responseFields(resp: XmlElement, wrapper: string, names: Array<string>, r: Reading): Array<XmlElement | null> {
  const all = names.slice(0);
  all.push(wrapper);
  const direct = fields(resp, all, r);
  const wrapped = direct[names.length];
  if (wrapped == null || !r.ok) return direct;
  for (let k = 0; k < names.length; k++) {
    if (direct[k] != null) {
      r.fail("fields both inside and outside " + wrapper);
      return direct;
    }
  }
  if (!plainStruct(wrapped!, wrapper, r)) return direct;
  return fields(wrapped!, names, r);
}

export function readLogonReply(body: Bytes): LogonReply {
  const out = new LogonReply();
  const r = new Reading();
  const resp = responseElement(body, "logonResponse", r);
  if (resp != null) {
    const f = responseFields(resp!, "lpsLogonResponse", ["er", "ulSessionId", "lpszVersion", "ulCapabilities"], r);
    if (r.ok) {
      if (f[0] == null) r.fail("no er in the logon reply");
      else out.er = readU32(f[0]!, r);
      if (f[1] != null) out.sessionId = readU64(f[1]!, r);
      if (f[2] != null) out.serverVersion = readString(f[2]!, r);
      if (f[3] != null) out.capabilities = readU32(f[3]!, r);
    }
  }
  return finish<LogonReply>(out, r);
}

export function readLogoffReply(body: Bytes): LogoffReply {
  return readResultReply(body, "logoffResponse", "logoff");
}

/** `<ns:setUserResponse><result>N</result></ns:setUserResponse>` (kopano-chauthtok.md §2.1: `result`, not `er`). */
export function readSetUserReply(body: Bytes): LogoffReply {
  return readResultReply(body, "setUserResponse", "setUser");
}

function readResultReply(body: Bytes, element: string, operation: string): LogoffReply {
  const out = new LogoffReply();
  const r = new Reading();
  const resp = responseElement(body, element, r);
  if (resp != null) {
    const f = fields(resp!, ["result"], r);
    if (r.ok) {
      if (f[0] == null) r.fail("no result in the " + operation + " reply");
      else out.result = readU32(f[0]!, r);
    }
  }
  return finish<LogoffReply>(out, r);
}

export function readGetUserReply(body: Bytes): UserReply {
  const out = new UserReply();
  const r = new Reading();
  const resp = responseElement(body, "getUserResponse", r);
  if (resp != null) {
    const f = responseFields(resp!, "lpsUserGetResponse", ["er", "lpsUser"], r);
    if (r.ok) {
      if (f[0] == null) r.fail("no er in the getUser reply");
      else out.er = readU32(f[0]!, r);
      if (f[1] != null) readUser(f[1]!, out, r);
      else if (r.ok && out.er == 0) r.fail("getUser succeeded without lpsUser");
    }
  }
  return finish<UserReply>(out, r);
}

function readUser(user: XmlElement, out: UserReply, r: Reading): void {
  if (!plainStruct(user, "lpsUser", r)) return;
  const f = fields(user, ["lpszUsername", "ulObjClass", "lpsMVPropmap", "ulUserId"], r);
  if (!r.ok) return;
  if (f[0] == null) {
    r.fail("no lpszUsername in lpsUser");
    return;
  }
  out.username = readString(f[0]!, r);
  if (f[1] == null) {
    r.fail("no ulObjClass in lpsUser");
    return;
  }
  out.objClass = readU32(f[1]!, r);
  if (f[3] != null) out.userId = readU32(f[3]!, r);
  if (f[2] != null) readPropmap(f[2]!, out, r);
}

/** `lpsMVPropmap`: a plain sequence of `item`, each `ulPropId` + `sValues` (a SOAP-ENC array of `item` strings). */
function readPropmap(map: XmlElement, out: UserReply, r: Reading): void {
  if (!plainStruct(map, "lpsMVPropmap", r)) return;
  const seen = new Array<u32>();
  const items = map.children;
  for (let k = 0; k < items.length && r.ok; k++) {
    const item = items[k];
    if (item.ns.length > 0 || item.local != "item") {
      r.fail("unexpected " + describe(item) + " in lpsMVPropmap");
      return;
    }
    if (!plainStruct(item, "lpsMVPropmap item", r)) return;
    const f = fields(item, ["ulPropId", "sValues"], r);
    if (!r.ok) return;
    if (f[0] == null || f[1] == null) {
      r.fail("lpsMVPropmap item without ulPropId or sValues");
      return;
    }
    const propId = readU32(f[0]!, r);
    if (!r.ok) return;
    if (seen.includes(propId)) {
      r.fail("property " + propId.toString() + " listed twice");
      return;
    }
    seen.push(propId);
    const values = readStringArray(f[1]!, r);
    if (!r.ok) return;
    out.mvProps.push(new MvProp(propId, values));
    if (propId == PR_EC_ENABLED_FEATURES_A) out.enabled = values;
    else if (propId == PR_EC_DISABLED_FEATURES_A) out.disabled = values;
  }
}

/** `<sValues SOAP-ENC:arrayType="xsd:string[N]"><item>…</item>…</sValues>`; N, when given, must match. */
function readStringArray(arr: XmlElement, r: Reading): Array<string> {
  const values = new Array<string>();
  let declared: i32 = -1;
  for (let k = 0; k < arr.attributes.length; k++) {
    const a = arr.attributes[k];
    if (a.ns != SOAP_ENCODING || a.local != "arrayType") {
      r.fail("unexpected attribute on sValues");
      return values;
    }
    declared = arraySize(a.value);
    if (declared < 0) {
      r.fail("unreadable SOAP-ENC:arrayType on sValues");
      return values;
    }
  }
  if (!isStruct(arr, "sValues", r)) return values;
  const items = arr.children;
  for (let k = 0; k < items.length; k++) {
    const item = items[k];
    if (item.ns.length > 0 || item.local != "item") {
      r.fail("unexpected " + describe(item) + " in sValues");
      return values;
    }
    const s = readString(item, r);
    if (!r.ok) return values;
    values.push(s);
  }
  if (declared >= 0 && declared != values.length) r.fail("sValues holds a different number of items than declared");
  return values;
}

/** N from "prefix:string[N]" (the only array type gSOAP writes here), or -1. */
function arraySize(t: string): i32 {
  const open = t.indexOf("[");
  if (open < 0 || !t.endsWith("]")) return -1;
  const colon = t.indexOf(":");
  const typeName = colon >= 0 && colon < open ? t.substring(colon + 1, open) : t.substring(0, open);
  if (typeName != "string") return -1;
  const digits = t.substring(open + 1, t.length - 1);
  if (digits.length == 0 || digits.length > 4) return -1;
  let v = 0;
  for (let k = 0; k < digits.length; k++) {
    const c = digits.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

// Shared epilogue of the three readers (T has `readable` and `problem`): readable iff no problem was recorded.
function finish<T>(out: T, r: Reading): T {
  out.readable = r.ok;
  out.problem = r.problem;
  return out;
}

/** Read an HTTP 500 body (or any body) as a SOAP 1.1 or 1.2 fault. */
export function readFault(body: Bytes): FaultReply {
  const r = new Reading();
  const e = bodyElement(body, r);
  if (e == null) {
    const out = new FaultReply();
    out.problem = r.problem;
    return out;
  }
  if (e!.local != "Fault" || e!.ns != r.envNs) {
    const out = new FaultReply();
    out.problem = sanitize("the SOAP Body holds " + describe(e!) + ", not a Fault");
    return out;
  }
  return readFaultElement(e!);
}

/** SOAP 1.1 `faultcode`/`faultstring`, or SOAP 1.2 `Code/Value` and the first `Reason/Text`. */
function readFaultElement(fault: XmlElement): FaultReply {
  const out = new FaultReply();
  const r = new Reading();
  if (fault.hasNonWhitespaceText) r.fail("text in the SOAP Fault");
  if (r.ok && fault.ns == SOAP11_ENVELOPE) {
    const f = fields(fault, ["faultcode", "faultstring"], r);
    if (r.ok && f[0] == null) r.fail("SOAP fault without faultcode");
    if (r.ok) out.code = faultText(f[0]!, r);
    if (r.ok && f[1] != null) out.text = faultText(f[1]!, r);
  } else if (r.ok) {
    const code = child12(fault, "Code", r);
    let value: XmlElement | null = null;
    if (code != null) value = child12(code, "Value", r);
    if (value == null) r.fail("SOAP 1.2 fault without Code/Value");
    else out.code = faultText(value!, r);
    const reason = r.ok ? child12(fault, "Reason", r) : null;
    if (reason != null) {
      const text = firstChild12(reason!, "Text");
      if (text != null) out.text = faultText(text!, r);
    }
  }
  out.readable = r.ok;
  out.problem = r.problem;
  return out;
}

function faultText(e: XmlElement, r: Reading): string {
  if (e.children.length > 0) {
    r.fail("child elements in " + e.local);
    return "";
  }
  return sanitize(e.textString());
}

/** The one {SOAP 1.2}`name` child of `e`; two of them is a problem. */
function child12(e: XmlElement, name: string, r: Reading): XmlElement | null {
  let found: XmlElement | null = null;
  for (let k = 0; k < e.children.length; k++) {
    const c = e.children[k];
    if (c.ns != SOAP12_ENVELOPE || c.local != name) continue;
    if (found != null) {
      r.fail("more than one " + name + " in the SOAP fault");
      return null;
    }
    found = c;
  }
  return found;
}

function firstChild12(e: XmlElement, name: string): XmlElement | null {
  for (let k = 0; k < e.children.length; k++) {
    const c = e.children[k];
    if (c.ns == SOAP12_ENVELOPE && c.local == name) return c;
  }
  return null;
}
