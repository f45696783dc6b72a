// gSOAP-exact reply envelopes. The byte layout (one line after the XML declaration, namespace table order,
// encodingStyle on Body, CRLF after the envelope) is copied from the kopano-11.0.2 captures.
import type { ProfileSpec } from './profiles.js';

export type SoapVersion = '1.1' | '1.2';

const NS = {
  '1.1': { env: 'http://schemas.xmlsoap.org/soap/envelope/', enc: 'http://schemas.xmlsoap.org/soap/encoding/' },
  // SOAP 1.2 requests are answered in SOAP 1.2 (kopano-soap.md §9 test D); the exact 1.2 bytes are [INF].
  '1.2': { env: 'http://www.w3.org/2003/05/soap-envelope', enc: 'http://www.w3.org/2003/05/soap-encoding' },
} as const;

function envelopeOpen(version: SoapVersion): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${NS[version].env}" xmlns:SOAP-ENC="${NS[version].enc}"` +
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"' +
    ' xmlns:xop="http://www.w3.org/2004/08/xop/include" xmlns:xmlmime="http://www.w3.org/2004/11/xmlmime"' +
    ' xmlns:ns="urn:zarafa">'
  );
}

const ENVELOPE_CLOSE = '</SOAP-ENV:Envelope>\r\n';

/** An rpc/encoded response: Body carries encodingStyle (tcp-a capture). */
export function responseEnvelope(version: SoapVersion, inner: string): Buffer {
  return Buffer.from(
    envelopeOpen(version) +
      `<SOAP-ENV:Body SOAP-ENV:encodingStyle="${NS[version].enc}">` +
      inner +
      '</SOAP-ENV:Body>' +
      ENVELOPE_CLOSE,
    'utf8',
  );
}

/** A fault: Body without encodingStyle (logon-wrong-password-and-no-unicode.http.txt). */
export function faultEnvelope(version: SoapVersion, faultcode: 'Client' | 'Server', faultstring: string): Buffer {
  let fault: string;
  if (version === '1.1') {
    fault = `<faultcode>SOAP-ENV:${faultcode}</faultcode><faultstring>${escapeText(faultstring)}</faultstring>`;
  } else {
    const code = faultcode === 'Client' ? 'Sender' : 'Receiver';
    fault =
      `<SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:${code}</SOAP-ENV:Value></SOAP-ENV:Code>` +
      `<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">${escapeText(faultstring)}</SOAP-ENV:Text></SOAP-ENV:Reason>`;
  }
  return Buffer.from(
    envelopeOpen(version) + `<SOAP-ENV:Body><SOAP-ENV:Fault>${fault}</SOAP-ENV:Fault></SOAP-ENV:Body>` + ENVELOPE_CLOSE,
    'utf8',
  );
}

/** gSOAP element text escaping: & < > and CR/LF as character references; TAB and quotes stay raw (§2.2). */
export function escapeText(value: string): string {
  return value.replace(/[&<>\r\n]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '\r' ? '&#xD;' : '&#xA;',
  );
}

function stringElement(name: string, value: string | null, spec: ProfileSpec): string {
  if (value === null) return ''; // NULL strings are omitted (§2.2)
  if (value === '' && spec.selfClosingEmptyStrings) return `<${name}/>`;
  return `<${name}>${escapeText(value)}</${name}>`;
}

function base64Element(name: string, value: Buffer): string {
  return `<${name}>${value.toString('base64')}</${name}>`;
}

export interface LogonReplyFields {
  er: number;
  sessionId: bigint;
  version: string | null;
  capabilities: number;
  serverGuid: Buffer; // empty on failure
}

export function logonResponse(f: LogonReplyFields, spec: ProfileSpec): string {
  const fields =
    `<er>${f.er >>> 0}</er><ulSessionId>${f.sessionId}</ulSessionId>` +
    stringElement('lpszVersion', f.version, spec) +
    `<ulCapabilities>${f.capabilities >>> 0}</ulCapabilities>` +
    base64Element('sLicenseResponse', Buffer.alloc(0)) +
    base64Element('sServerGuid', f.serverGuid);
  return spec.nestedResponses
    ? `<ns:logonResponse><lpsLogonResponse>${fields}</lpsLogonResponse></ns:logonResponse>`
    : `<ns:logonResponse>${fields}</ns:logonResponse>`;
}

export function logoffResponse(result: number): string {
  return `<ns:logoffResponse><result>${result >>> 0}</result></ns:logoffResponse>`;
}

/** setUser answers `result`, not `er` (kopano-chauthtok.md §2.1, t01 capture). */
export function setUserResponse(result: number): string {
  return `<ns:setUserResponse><result>${result >>> 0}</result></ns:setUserResponse>`;
}

export interface UserDetailsFields {
  userId: number;
  username: string;
  mailAddress: string;
  fullName: string;
  serverName: string;
  nonActive: number;
  admin: number;
  abHidden: number;
  capacity: number;
  objClass: number;
  mvProps: { propId: number; values: string[] }[] | null;
  entryId: Buffer;
}

/** MV string array: SOAP-ENC array in 1.1 (logon-getuser-logoff.http.txt); 1.2 form [INF]. */
function stringArray(values: string[], spec: ProfileSpec, version: SoapVersion): string {
  const attr =
    version === '1.1'
      ? `SOAP-ENC:arrayType="xsd:string[${values.length}]"`
      : `SOAP-ENC:itemType="xsd:string" SOAP-ENC:arraySize="${values.length}"`;
  if (values.length === 0) return spec.selfClosingEmptyStrings ? `<sValues ${attr}/>` : `<sValues ${attr}></sValues>`;
  return `<sValues ${attr}>${values.map((v) => stringElement('item', v, spec)).join('')}</sValues>`;
}

export function getUserResponse(
  er: number,
  user: UserDetailsFields | null,
  spec: ProfileSpec,
  version: SoapVersion,
): string {
  let lpsUser = '';
  if (user) {
    const mv = user.mvProps
      ? '<lpsMVPropmap>' +
        user.mvProps
          .map((p) => `<item><ulPropId>${p.propId >>> 0}</ulPropId>${stringArray(p.values, spec, version)}</item>`)
          .join('') +
        '</lpsMVPropmap>'
      : '';
    lpsUser =
      '<lpsUser>' +
      `<ulUserId>${user.userId}</ulUserId>` +
      stringElement('lpszUsername', user.username, spec) +
      stringElement('lpszPassword', '', spec) +
      stringElement('lpszMailAddress', user.mailAddress, spec) +
      stringElement('lpszFullName', user.fullName, spec) +
      stringElement('lpszServername', user.serverName, spec) +
      `<ulIsNonActive>${user.nonActive}</ulIsNonActive><ulIsAdmin>${user.admin}</ulIsAdmin>` +
      `<ulIsABHidden>${user.abHidden}</ulIsABHidden><ulCapacity>${user.capacity}</ulCapacity>` +
      `<ulObjClass>${user.objClass}</ulObjClass>` +
      mv +
      base64Element('sUserId', user.entryId) +
      '</lpsUser>';
  }
  const fields = `${lpsUser}<er>${er >>> 0}</er>`;
  return spec.nestedResponses
    ? `<ns:getUserResponse><lpsUserGetResponse>${fields}</lpsUserGetResponse></ns:getUserResponse>`
    : `<ns:getUserResponse>${fields}</ns:getUserResponse>`;
}
