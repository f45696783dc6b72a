// Decoding ns:setUser the way gSOAP's generated soap_in_user does (kopano-chauthtok.md §2.1): children in any
// order, unknown ones skipped, omitted strings NULL, omitted unsigned ints 0 (soap_default_user), `-1` or `abc`
// in an unsignedInt a "Validation constraint violation" fault naming the element, strings verbatim.
import { DOMParser } from '@xmldom/xmldom';
import { SoapFault, type SoapString } from './soap-decode.js';
import type { SoapVersion } from './envelope.js';

const ZARAFA_NS = 'urn:zarafa';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

export interface MvPropSent {
  propId: number;
  values: string[];
}

/** `struct user` as the server sees it after deserialisation. */
export interface SentUser {
  ulUserId: number;
  lpszUsername: SoapString;
  lpszPassword: SoapString;
  lpszMailAddress: SoapString;
  lpszFullName: SoapString;
  lpszServername: SoapString;
  ulIsNonActive: number;
  ulIsAdmin: number;
  ulIsABHidden: number;
  ulCapacity: number;
  ulObjClass: number;
  /** null = no lpsMVPropmap element */
  lpsMVPropmap: MvPropSent[] | null;
  sUserId: Buffer;
}

export interface SetUserRequest {
  operation: 'setUser';
  soapVersion: SoapVersion;
  ulSessionId: bigint;
  /** null = no lpsUser element (INVALID_PARAMETER) */
  lpsUser: SentUser | null;
}

function children(e: Element): Element[] {
  const out: Element[] = [];
  for (let i = 0; i < e.childNodes.length; i++) {
    const c = e.childNodes[i] as Element;
    if (c.nodeType === 1) out.push(c);
  }
  return out;
}

/** The first child with this local name (gSOAP fills a field once; a repeat is skipped as unknown). */
function child(e: Element, name: string): Element | undefined {
  return children(e).find((c) => c.localName === name);
}

function isNil(e: Element): boolean {
  const v = e.getAttributeNS(XSI_NS, 'nil');
  return v === 'true' || v === '1';
}

function stringOf(parent: Element, name: string): SoapString {
  const e = child(parent, name);
  if (!e || isNil(e)) return null;
  return e.textContent ?? '';
}

const DECIMAL = /^[ \t\r\n]*\+?([0-9]+)[ \t\r\n]*$/;

function unsignedOf(parent: Element, name: string, bits: 32 | 64, v: SoapVersion): bigint {
  const e = child(parent, name);
  if (!e || isNil(e)) return 0n;
  const m = DECIMAL.exec(e.textContent ?? '');
  const n = m ? BigInt(m[1]) : -1n;
  if (n < 0n || n >= 1n << BigInt(bits)) {
    throw new SoapFault('Client', `Validation constraint violation: invalid value in element '${name}'`, v);
  }
  return n;
}

function mvPropmap(e: Element, v: SoapVersion): MvPropSent[] {
  return children(e)
    .filter((item) => item.localName === 'item')
    .map((item) => {
      const values = child(item, 'sValues');
      return {
        propId: Number(unsignedOf(item, 'ulPropId', 32, v)),
        values: values ? children(values).filter((x) => x.localName === 'item').map((x) => x.textContent ?? '') : [],
      };
    });
}

export function decodeSetUser(xml: string, soapVersion: SoapVersion): SetUserRequest {
  let syntaxError: string | null = null;
  const doc = new DOMParser({
    errorHandler: { warning: () => {}, error: (m: string) => (syntaxError ??= m), fatalError: (m: string) => (syntaxError ??= m) },
  }).parseFromString(xml, 'text/xml');
  if (syntaxError || !doc?.documentElement) throw new SoapFault('Client', 'XML syntax error', soapVersion);
  const root = doc.documentElement;
  const body = children(root).find((e) => e.localName === 'Body' && e.namespaceURI === root.namespaceURI);
  const op = body ? children(body)[0] : undefined;
  if (!op || op.namespaceURI !== ZARAFA_NS || op.localName !== 'setUser') {
    throw new SoapFault('Client', 'No data', soapVersion);
  }
  const ulSessionId = unsignedOf(op, 'ulSessionId', 64, soapVersion);
  const u = child(op, 'lpsUser');
  if (!u || isNil(u)) return { operation: 'setUser', soapVersion, ulSessionId, lpsUser: null };
  const num = (name: string) => Number(unsignedOf(u, name, 32, soapVersion));
  const mv = child(u, 'lpsMVPropmap');
  const lpsUser: SentUser = {
    ulUserId: num('ulUserId'),
    lpszUsername: stringOf(u, 'lpszUsername'),
    lpszPassword: stringOf(u, 'lpszPassword'),
    lpszMailAddress: stringOf(u, 'lpszMailAddress'),
    lpszFullName: stringOf(u, 'lpszFullName'),
    lpszServername: stringOf(u, 'lpszServername'),
    ulIsNonActive: num('ulIsNonActive'),
    ulIsAdmin: num('ulIsAdmin'),
    ulIsABHidden: num('ulIsABHidden'),
    ulCapacity: num('ulCapacity'),
    ulObjClass: num('ulObjClass'),
    lpsMVPropmap: mv && !isNil(mv) ? mvPropmap(mv, soapVersion) : null,
    sUserId: Buffer.from((stringOf(u, 'sUserId') ?? '').trim(), 'base64'),
  };
  return { operation: 'setUser', soapVersion, ulSessionId, lpsUser };
}
