// SOAP request bodies, byte for byte in the shape Kopano's own gSOAP client writes (kopano-soap.md §2.1, §2.6):
// one line, SOAP 1.1, rpc/encoded, unqualified parameters. Every byte of input is escaped here, so no user name,
// password or service name can change the structure of the envelope.
import { Bytes, ByteWriter } from "./bytes";
import { appendBase64Xor } from "./base64";
import { utf8CodePoint, utf8SequenceLength } from "./utf8";
import { MvProp } from "./reply";

export const CAP_LARGE_SESSIONID: u32 = 0x10;
export const CAP_UNICODE: u32 = 0x200;
/** UNICODE | LARGE_SESSIONID: never COMPRESSION (0x1) or ENHANCED_ICS (0x100), which change the framing. */
export const LOGON_CAPABILITIES: u32 = CAP_UNICODE | CAP_LARGE_SESSIONID;
/** Never authenticate by the unix socket peer's uid: a root caller would otherwise log in as anyone. */
export const LOGON_NO_UID_AUTH: u32 = 0x1;
/** Authenticate only; the server creates no session (Kopano ≥ 8.4.91, ignored by older servers). */
export const LOGON_NO_REGISTER_SESSION: u32 = 0x2;

export const CLIENT_APP = "pam_mapi";
export const CLIENT_VERSION = "0.1.0";

const HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" ' +
  'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" ' +
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ' +
  'xmlns:xop="http://www.w3.org/2004/08/xop/include" xmlns:xmlmime="http://www.w3.org/2004/11/xmlmime" ' +
  'xmlns:ns="urn:zarafa"><SOAP-ENV:Body SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">';
const TAIL = "</SOAP-ENV:Body></SOAP-ENV:Envelope>";

/** Characters XML 1.0 cannot carry at all, even as references. */
function notXmlChar(cp: u32): bool {
  return (cp < 0x20 && cp != 0x09 && cp != 0x0a && cp != 0x0d) || cp == 0xfffe || cp == 0xffff;
}

/** Append validated UTF-8 as element text: `& < >` as entities, CR and LF as references (gSOAP does the same). */
export function appendEscaped(out: ByteWriter, text: Bytes): void {
  for (let i = 0; i < text.len; i++) {
    const c = text.at(i);
    if (c == 0x26) out.text("&amp;");
    else if (c == 0x3c) out.text("&lt;");
    else if (c == 0x3e) out.text("&gt;");
    else if (c == 0x0d) out.text("&#xD;");
    else if (c == 0x0a) out.text("&#xA;");
    else out.byte(c);
  }
}

/**
 * Passwords that begin with `{1}:`/`{2}:` would be decoded by the server, and some characters cannot be written
 * in XML at all; both are sent in the `{2}:` form (base64 of the UTF-8 bytes XOR 0xA5), which every Zarafa and
 * Kopano server decodes back to exactly these bytes (kopano-soap.md §4.4).
 */
export function needsObfuscatedForm(password: Bytes): bool {
  if (password.startsWith("{1}:") || password.startsWith("{2}:")) return true;
  let i = 0;
  while (i < password.len) {
    const n = utf8SequenceLength(password, i);
    if (n == 0) return true;
    if (notXmlChar(utf8CodePoint(password, i, n))) return true;
    i += n;
  }
  return false;
}

function element(out: ByteWriter, name: string, value: string): void {
  out.text("<" + name + ">" + value + "</" + name + ">");
}

/** `ns:logon` as kopano-soap.md §8 recommends. `user` and `password` are validated UTF-8. */
export function logonEnvelope(user: Bytes, password: Bytes, flags: u32, service: string): ByteWriter {
  const out = new ByteWriter(1024 + user.len * 5 + password.len * 5);
  out.text(HEAD);
  out.text("<ns:logon><szUsername>");
  appendEscaped(out, user);
  out.text("</szUsername><szPassword>");
  if (needsObfuscatedForm(password)) {
    out.text("{2}:");
    appendBase64Xor(out, password, 0xa5);
  } else {
    appendEscaped(out, password);
  }
  out.text("</szPassword><szImpersonateUser/>");
  element(out, "ulCapabilities", LOGON_CAPABILITIES.toString());
  element(out, "ulFlags", flags.toString());
  out.text("<sLicenseReq></sLicenseReq><ullSessionGroup>0</ullSessionGroup>");
  element(out, "szClientApp", CLIENT_APP);
  element(out, "szClientAppVersion", CLIENT_VERSION);
  out.text("<szClientAppMisc>");
  appendEscaped(out, Bytes.ofString(service));
  out.text("</szClientAppMisc></ns:logon>");
  out.text(TAIL);
  return out;
}

/** `ns:getUser` for the session's own user (ulUserId 0, empty sUserId), kopano-soap.md §5.2. */
export function getUserEnvelope(sessionId: u64): ByteWriter {
  const out = new ByteWriter(1024);
  out.text(HEAD);
  out.text("<ns:getUser>");
  element(out, "ulSessionId", sessionId.toString());
  out.text("<ulUserId>0</ulUserId><sUserId></sUserId></ns:getUser>");
  out.text(TAIL);
  return out;
}

export function logoffEnvelope(sessionId: u64): ByteWriter {
  const out = new ByteWriter(1024);
  out.text(HEAD);
  out.text("<ns:logoff>");
  element(out, "ulSessionId", sessionId.toString());
  out.text("</ns:logoff>");
  out.text(TAIL);
  return out;
}

/** The unsigned-int marker setUser reads as "leave unchanged" (kopano-chauthtok.md §2.1: -1 is a SOAP fault). */
export const UNCHANGED: u32 = 0xffffffff;

/**
 * `ns:setUser` in the safe shape of kopano-chauthtok.md §8: the user's own id, the new password sent plain
 * (the server stores a `{2}:` form literally), the four numbers as "unchanged" (omitted ones would arrive as 0),
 * the MV property lists copied from getUser (omitted ones would be deleted), and no other string field.
 */
export function setUserEnvelope(sessionId: u64, userId: u32, newPassword: Bytes, mvProps: Array<MvProp>): ByteWriter {
  const out = new ByteWriter(2048 + newPassword.len * 5);
  out.text(HEAD);
  out.text("<ns:setUser>");
  element(out, "ulSessionId", sessionId.toString());
  out.text("<lpsUser>");
  element(out, "ulUserId", userId.toString());
  out.text("<lpszPassword>");
  appendEscaped(out, newPassword);
  out.text("</lpszPassword>");
  element(out, "ulIsAdmin", UNCHANGED.toString());
  element(out, "ulIsABHidden", UNCHANGED.toString());
  element(out, "ulCapacity", UNCHANGED.toString());
  element(out, "ulObjClass", UNCHANGED.toString());
  if (mvProps.length > 0) {
    out.text("<lpsMVPropmap>");
    for (let i = 0; i < mvProps.length; i++) {
      const p = mvProps[i];
      out.text("<item>");
      element(out, "ulPropId", p.propId.toString());
      out.text('<sValues SOAP-ENC:arrayType="xsd:string[' + p.values.length.toString() + ']">');
      for (let k = 0; k < p.values.length; k++) {
        out.text("<item>");
        appendEscaped(out, Bytes.ofString(p.values[k]));
        out.text("</item>");
      }
      out.text("</sValues></item>");
    }
    out.text("</lpsMVPropmap>");
  }
  out.text("</lpsUser></ns:setUser>");
  out.text(TAIL);
  return out;
}
