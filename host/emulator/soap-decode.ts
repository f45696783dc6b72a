// Decoding incoming KCmd envelopes the way gSOAP's generated deserializer does (kopano-soap.md §2.2, §2.3, §9):
// dispatch on the namespace-resolved QName of the Body's first element, any prefix bound to urn:zarafa, children
// in any order, unknown children skipped, entities/char refs/CDATA decoded, no whitespace trimming of strings,
// xsi:nil -> NULL, numbers strictly decimal. The values come from node-soap's WSDL object (xmlToObject); the
// namespace check comes from a namespace-aware DOM parse (@xmldom/xmldom), because node-soap ignores namespaces.
import { WSDL } from 'soap';
import { DOMParser } from '@xmldom/xmldom';
import { KCMD_WSDL, KCMD_OPERATIONS, type KCmdOperation } from './kcmd-wsdl.js';
import type { SoapVersion } from './envelope.js';
import { decodeSetUser, type SetUserRequest } from './setuser-decode.js';

const ZARAFA_NS = 'urn:zarafa';
const ENV_NS: Record<string, SoapVersion> = {
  'http://schemas.xmlsoap.org/soap/envelope/': '1.1',
  'http://www.w3.org/2003/05/soap-envelope': '1.2',
};

/** A SOAP fault gSOAP would send instead of calling the service. */
export class SoapFault extends Error {
  constructor(
    readonly faultcode: 'Client' | 'Server',
    readonly faultstring: string,
    readonly soapVersion: SoapVersion,
  ) {
    super(faultstring);
  }
}

/** null = NULL (absent or xsi:nil), '' = empty element. */
export type SoapString = string | null;

export type DecodedRequest =
  | {
      operation: 'logon';
      soapVersion: SoapVersion;
      szUsername: SoapString;
      szPassword: SoapString;
      szImpersonateUser: SoapString;
      szVersion: SoapString;
      ulCapabilities: number;
      ulFlags: number;
      szClientApp: SoapString;
    }
  | { operation: 'logoff'; soapVersion: SoapVersion; ulSessionId: bigint }
  | { operation: 'getUser'; soapVersion: SoapVersion; ulSessionId: bigint; ulUserId: number; sUserId: Buffer }
  | SetUserRequest;

let wsdlPromise: Promise<WSDL> | undefined;

/** preserveWhitespace: gSOAP hands strings over verbatim (§2.2); node-soap would trim them otherwise. */
function kcmdWsdl(): Promise<WSDL> {
  wsdlPromise ??= new Promise<WSDL>((resolve, reject) => {
    const wsdl = new WSDL(KCMD_WSDL, 'urn:zarafa:KCmd.wsdl', {});
    // The constructor does not copy this option, so set it on the parsed options.
    (wsdl as unknown as { options: Record<string, unknown> }).options.preserveWhitespace = true;
    wsdl.onReady((err) => (err ? reject(err) : resolve(wsdl)));
  });
  return wsdlPromise;
}

interface Dispatch {
  soapVersion: SoapVersion;
  operation: KCmdOperation;
}

/** Find the Body's first element and check it is a urn:zarafa operation we serve (§2.3, test E). */
function dispatchOf(xml: string): Dispatch {
  let syntaxError: string | null = null;
  const doc = new DOMParser({
    errorHandler: {
      warning: () => {},
      error: (msg: string) => (syntaxError ??= msg),
      fatalError: (msg: string) => (syntaxError ??= msg),
    },
  }).parseFromString(xml, 'text/xml');
  const root = doc?.documentElement;
  const soapVersion = (root && ENV_NS[root.namespaceURI ?? '']) || '1.1';
  if (syntaxError || !root) throw new SoapFault('Client', 'XML syntax error', soapVersion); // [INF] wording
  if (root.localName !== 'Envelope' || !ENV_NS[root.namespaceURI ?? '']) {
    throw new SoapFault('Client', 'Validation constraint violation: tag name or namespace mismatch in element \'' + root.tagName + "'", '1.1');
  }
  const body = childElements(root).find((e) => e.localName === 'Body' && e.namespaceURI === root.namespaceURI);
  const op = body ? childElements(body)[0] : undefined;
  if (!op) throw new SoapFault('Client', 'No data', soapVersion); // [INF] gSOAP SOAP_NO_DATA wording
  // gSOAP prints the tag with its own prefix when the namespace is known, else the tag as received.
  const shownTag = op.namespaceURI === ZARAFA_NS ? `ns:${op.localName}` : op.tagName;
  if (op.namespaceURI !== ZARAFA_NS || !(KCMD_OPERATIONS as readonly string[]).includes(op.localName ?? '')) {
    throw new SoapFault(
      'Client',
      `Method '${shownTag}' not implemented: method name or namespace not recognized`,
      soapVersion,
    );
  }
  return { soapVersion, operation: op.localName as KCmdOperation };
}

function childElements(node: { childNodes: ArrayLike<unknown> }): Element[] {
  const out: Element[] = [];
  for (let i = 0; i < node.childNodes.length; i++) {
    const c = node.childNodes[i] as Element;
    if (c.nodeType === 1) out.push(c);
  }
  return out;
}

/** node-soap's value for one child: absent -> undefined, <x/> -> null, attributes -> { $value }, repeats -> array. */
function rawValue(fields: Record<string, unknown>, name: string): SoapString {
  if (!(name in fields)) return null; // absent or xsi:nil (node-soap drops nil elements)
  let v = fields[name];
  if (Array.isArray(v)) v = v[0]; // gSOAP fills a field once; a repeated element is skipped as unknown
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && '$value' in v) return String((v as { $value: unknown }).$value);
  return ''; // element with attributes or child elements only
}

const DECIMAL = /^[ \t\r\n]*\+?([0-9]+)[ \t\r\n]*$/;

/** soap_s2unsignedInt / soap_s2ULONG64: decimal only, range-checked; anything else is test G's fault. */
function unsignedValue(fields: Record<string, unknown>, name: string, bits: 32 | 64, v: SoapVersion): bigint {
  const raw = rawValue(fields, name);
  if (raw === null) return 0n; // absent: gSOAP leaves the default 0
  const m = DECIMAL.exec(raw);
  const n = m ? BigInt(m[1]) : -1n;
  if (n < 0n || n >= 1n << BigInt(bits)) {
    throw new SoapFault('Client', `Validation constraint violation: invalid value in element '${name}'`, v);
  }
  return n;
}

export async function decodeRequest(xml: string): Promise<DecodedRequest> {
  const { soapVersion, operation } = dispatchOf(xml);
  // struct user (nested, with arrays) is read from the DOM directly, as gSOAP's soap_in_user would
  if (operation === 'setUser') return decodeSetUser(xml, soapVersion);
  const wsdl = await kcmdWsdl();
  let parsed: { Body?: Record<string, unknown> };
  try {
    parsed = wsdl.xmlToObject(xml);
  } catch {
    throw new SoapFault('Client', 'XML syntax error', soapVersion);
  }
  const opValue = parsed?.Body?.[operation];
  const fields = (typeof opValue === 'object' && opValue !== null ? opValue : {}) as Record<string, unknown>;
  const str = (name: string) => rawValue(fields, name);
  switch (operation) {
    case 'logon':
      return {
        operation,
        soapVersion,
        szUsername: str('szUsername'),
        szPassword: str('szPassword'),
        szImpersonateUser: str('szImpersonateUser'),
        szVersion: str('szVersion'),
        ulCapabilities: Number(unsignedValue(fields, 'ulCapabilities', 32, soapVersion)),
        ulFlags: Number(unsignedValue(fields, 'ulFlags', 32, soapVersion)),
        // parsed for the fault behaviour only; their values do not matter here
        ...(unsignedValue(fields, 'ullSessionGroup', 64, soapVersion), {}),
        szClientApp: str('szClientApp'),
      };
    case 'logoff':
      return { operation, soapVersion, ulSessionId: unsignedValue(fields, 'ulSessionId', 64, soapVersion) };
    case 'getUser':
      return {
        operation,
        soapVersion,
        ulSessionId: unsignedValue(fields, 'ulSessionId', 64, soapVersion),
        ulUserId: Number(unsignedValue(fields, 'ulUserId', 32, soapVersion)),
        sUserId: Buffer.from((str('sUserId') ?? '').trim(), 'base64'),
      };
  }
}
