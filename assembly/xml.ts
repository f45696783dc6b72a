// A strict, bounded, non-validating XML 1.0 reader with namespaces, for SOAP reply bodies. One pass over the bytes
// builds a small element tree or stops at the first problem with a reason. Anything a SOAP reply never needs is
// refused instead of interpreted: DTDs (so no custom entities, no entity expansion bombs), processing instructions,
// encodings other than UTF-8, undeclared prefixes, and input beyond fixed limits.
import { Bytes } from "./bytes";
import { utf8CodePoint, utf8SequenceLength } from "./utf8";

export const XML_MAX_INPUT: i32 = 1 << 20;
export const XML_MAX_DEPTH: i32 = 32;
export const XML_MAX_ELEMENTS: i32 = 4096;
export const XML_MAX_ATTRIBUTES: i32 = 32; // per element, namespace declarations included
export const XML_MAX_TOTAL_ATTRIBUTES: i32 = 1024; // whole document: keeps the tree well inside the guest's memory
export const XML_MAX_NAME: i32 = 256; // bytes of a qualified name
export const XML_MAX_TEXT: i32 = 256 * 1024; // decoded character data plus attribute values, whole document

export const XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NAMESPACE = "http://www.w3.org/2000/xmlns/";

const LT: u8 = 0x3c; // <
const GT: u8 = 0x3e; // >
const AMP: u8 = 0x26; // &
const SLASH: u8 = 0x2f;
const COLON: u32 = 0x3a;
const EQUALS: u8 = 0x3d;
const QUOT: u8 = 0x22;
const APOS: u8 = 0x27;
const SEMI: u8 = 0x3b;
const CR: u8 = 0x0d;
const LF: u8 = 0x0a;
const TAB: u8 = 0x09;
const SPACE: u8 = 0x20;
const RBRACKET: u8 = 0x5d;
const DASH: u8 = 0x2d;

/** A growable byte buffer owned by one element (the stub runtime never frees, so it grows by doubling). */
class TextBuffer {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;

  reserve(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.cap) return;
    let cap = this.cap < 16 ? 16 : this.cap << 1;
    while (cap < need) cap <<= 1;
    this.ptr = this.ptr == 0 ? heap.alloc(<usize>cap) : heap.realloc(this.ptr, <usize>cap);
    this.cap = cap;
  }

  append(src: usize, n: i32): void {
    if (n <= 0) return;
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  byte(b: u8): void {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, b);
    this.len++;
  }

  /** Append the UTF-8 encoding of a code point already known to be a legal XML character. */
  codePoint(cp: u32): void {
    if (cp < 0x80) {
      this.byte(<u8>cp);
    } else if (cp < 0x800) {
      this.byte(<u8>(0xc0 | (cp >> 6)));
      this.byte(<u8>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      this.byte(<u8>(0xe0 | (cp >> 12)));
      this.byte(<u8>(0x80 | ((cp >> 6) & 0x3f)));
      this.byte(<u8>(0x80 | (cp & 0x3f)));
    } else {
      this.byte(<u8>(0xf0 | (cp >> 18)));
      this.byte(<u8>(0x80 | ((cp >> 12) & 0x3f)));
      this.byte(<u8>(0x80 | ((cp >> 6) & 0x3f)));
      this.byte(<u8>(0x80 | (cp & 0x3f)));
    }
  }

  view(): Bytes {
    return new Bytes(this.ptr, this.len);
  }
}

export class XmlAttribute {
  constructor(public ns: string, public local: string, public value: string) {}
}

export class XmlElement {
  /** Attributes after namespace processing; namespace declarations are not listed. */
  attributes: Array<XmlAttribute> = new Array<XmlAttribute>();
  children: Array<XmlElement> = new Array<XmlElement>();
  /** True if any character data directly in this element is not XML whitespace. */
  hasNonWhitespaceText: bool = false;
  /** Character data directly in this element (text, CDATA, references decoded), concatenated; valid UTF-8. */
  textBuffer: TextBuffer = new TextBuffer();

  constructor(
    public ns: string,
    public local: string,
    /** The qualified name as written, for matching the end tag. */
    public rawName: Bytes,
  ) {}

  /** Non-whitespace text next to child elements. */
  get isMixed(): bool {
    return this.hasNonWhitespaceText && this.children.length > 0;
  }

  text(): Bytes {
    return this.textBuffer.view();
  }

  textString(): string {
    return this.textBuffer.view().toText();
  }

  attribute(ns: string, local: string): XmlAttribute | null {
    for (let k = 0; k < this.attributes.length; k++) {
      const a = this.attributes[k];
      if (a.ns == ns && a.local == local) return a;
    }
    return null;
  }
}

export class XmlDocument {
  constructor(
    public root: XmlElement | null,
    public error: string,
    /** Byte offset where the problem was found, -1 if none. */
    public errorOffset: i32,
  ) {}

  get ok(): bool {
    return this.root != null;
  }
}

/** Parse a whole document. Never traps on any input; returns the tree or the first problem found. */
export function parseXml(input: Bytes): XmlDocument {
  const p = new Parser(input);
  if (!p.document()) return new XmlDocument(null, p.error.length > 0 ? p.error : "malformed", p.errorAt);
  return new XmlDocument(p.root, "", -1);
}

/** One attribute as written, before namespace processing. */
class RawAttribute {
  constructor(public name: Bytes, public colon: i32, public value: string) {}
}

function isSpace(c: u8): bool {
  return c == SPACE || c == TAB || c == LF || c == CR;
}

/** XML 1.0 (5th ed.) Char. */
function isXmlChar(cp: u32): bool {
  if (cp >= 0x20) return cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
  return cp == 0x9 || cp == 0xa || cp == 0xd;
}

/** NameStartChar without ':' (namespaces give the colon its own role). */
@inline function isNameStart(cp: u32): bool {
  if (cp < 0x80) return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a) || cp == 0x5f;
  return isNameStartPastAscii(cp);
}

function isNameStartPastAscii(cp: u32): bool {
  if (cp < 0x80) return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a) || cp == 0x5f;
  return (cp >= 0xc0 && cp <= 0xd6) || (cp >= 0xd8 && cp <= 0xf6) || (cp >= 0xf8 && cp <= 0x2ff) ||
    (cp >= 0x370 && cp <= 0x37d) || (cp >= 0x37f && cp <= 0x1fff) || (cp >= 0x200c && cp <= 0x200d) ||
    (cp >= 0x2070 && cp <= 0x218f) || (cp >= 0x2c00 && cp <= 0x2fef) || (cp >= 0x3001 && cp <= 0xd7ff) ||
    (cp >= 0xf900 && cp <= 0xfdcf) || (cp >= 0xfdf0 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0xeffff);
}

@inline function isNameChar(cp: u32): bool {
  if (isNameStart(cp)) return true;
  return cp == 0x2d || cp == 0x2e || (cp >= 0x30 && cp <= 0x39) || (cp >= 0x80 && isNameCharPastAscii(cp));
}

function isNameCharPastAscii(cp: u32): bool {
  return cp == 0xb7 || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x203f && cp <= 0x2040);
}

function sameBytes(a: Bytes, b: Bytes): bool {
  return a.len == b.len && memory.compare(a.ptr, b.ptr, <usize>a.len) == 0;
}

class Parser {
  i: i32 = 0;
  n: i32;
  error: string = "";
  errorAt: i32 = -1;
  root: XmlElement | null = null;

  private textTotal: i32 = 0;
  private elementCount: i32 = 0;
  private attributeCount: i32 = 0;
  private open: Array<XmlElement> = new Array<XmlElement>();
  /** Number of namespace bindings in force before each open element's declarations. */
  private marks: Array<i32> = new Array<i32>();
  private prefixes: Array<string> = new Array<string>();
  private uris: Array<string> = new Array<string>();
  private scratch: TextBuffer = new TextBuffer();
  private raw: Array<RawAttribute> = new Array<RawAttribute>();
  private cp: u32 = 0; // code point decoded by the last `decodeChar`
  private lastColon: i32 = -1; // colon offset in the last `name`, -1 if unprefixed

  constructor(public input: Bytes) {
    this.n = input.len;
  }

  fail(reason: string): bool {
    if (this.error.length == 0) {
      this.error = reason;
      this.errorAt = this.i;
    }
    return false;
  }

  @inline at(k: i32): u8 {
    return load<u8>(this.input.ptr + <usize>k);
  }

  /** True if the ASCII literal `s` starts at the cursor. */
  has(s: string): bool {
    const m = s.length;
    if (this.i + m > this.n) return false;
    for (let k = 0; k < m; k++) if (<u32>this.at(this.i + k) != <u32>s.charCodeAt(k)) return false;
    return true;
  }

  /** Skip XML whitespace; true if there was any. */
  skipSpace(): bool {
    const start = this.i;
    while (this.i < this.n && isSpace(this.at(this.i))) this.i++;
    return this.i > start;
  }

  /** Decode the character at the cursor into `cp`; returns its length, 0 if invalid UTF-8 or not an XML Char.
   *  Inline for ASCII: it runs once per character of every reply (a call per character was 13 % of a login). */
  @inline decodeChar(): i32 {
    const c = this.at(this.i);
    if (c < 0x80) {
      this.cp = c;
      return c >= 0x20 || c == 0x9 || c == 0xa || c == 0xd ? 1 : 0;
    }
    return this.decodeMultiByte();
  }

  /** `decodeChar` past ASCII. */
  decodeMultiByte(): i32 {
    const len = utf8SequenceLength(this.input, this.i);
    if (len == 0) return 0;
    this.cp = utf8CodePoint(this.input, this.i, len);
    return isXmlChar(this.cp) ? len : 0;
  }

  badChar(): bool {
    const c = this.at(this.i);
    if (c >= 0x80 && utf8SequenceLength(this.input, this.i) == 0) return this.fail("invalid UTF-8");
    return this.fail("character not allowed in XML");
  }

  document(): bool {
    if (this.n > XML_MAX_INPUT) return this.fail("document larger than 1 MiB");
    if (this.n >= 3 && this.at(0) == 0xef && this.at(1) == 0xbb && this.at(2) == 0xbf) this.i = 3;
    if (this.has("<?xml") && this.i + 5 < this.n && isSpace(this.at(this.i + 5))) {
      if (!this.declaration()) return false;
    }
    if (!this.misc(false)) return false;
    if (!this.startTag()) return false;
    while (this.open.length > 0) {
      if (this.i >= this.n) return this.fail("unclosed element");
      if (this.at(this.i) != LT) {
        if (!this.charData()) return false;
      } else if (this.has("</")) {
        if (!this.endTag()) return false;
      } else if (this.has("<!--")) {
        if (!this.comment()) return false;
      } else if (this.has("<![CDATA[")) {
        if (!this.cdata()) return false;
      } else if (this.has("<?")) {
        return this.fail("processing instruction");
      } else if (this.has("<!")) {
        return this.fail("markup declaration inside an element");
      } else {
        if (!this.startTag()) return false;
      }
    }
    return this.misc(true);
  }

  /** Whitespace and comments before (`afterRoot` false) or after the root element. */
  misc(afterRoot: bool): bool {
    while (true) {
      this.skipSpace();
      if (this.i >= this.n) return afterRoot ? true : this.fail("no root element");
      if (this.has("<!--")) {
        if (!this.comment()) return false;
        continue;
      }
      if (this.has("<?")) return this.fail("processing instruction");
      if (this.has("<!")) return this.fail(afterRoot ? "markup after the root element" : "DOCTYPE or markup declaration");
      if (this.at(this.i) == LT) return afterRoot ? this.fail("more than one root element") : true;
      return this.fail(afterRoot ? "content after the root element" : "content before the root element");
    }
  }

  /** `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`, encoding and standalone optional. */
  declaration(): bool {
    this.i += 5;
    this.skipSpace();
    if (!this.has("version")) return this.fail("XML declaration without version");
    this.i += 7;
    const version = this.declValue();
    if (version == null) return false;
    if (!version.equals("1.0")) return this.fail("XML version other than 1.0");
    let spaced = this.skipSpace();
    if (this.has("encoding")) {
      if (!spaced) return this.fail("malformed XML declaration");
      this.i += 8;
      const enc = this.declValue();
      if (enc == null) return false;
      if (!asciiEqualsIgnoreCase(enc, "utf-8")) return this.fail("encoding other than UTF-8");
      spaced = this.skipSpace();
    }
    if (this.has("standalone")) {
      if (!spaced) return this.fail("malformed XML declaration");
      this.i += 10;
      const sa = this.declValue();
      if (sa == null) return false;
      if (!sa.equals("yes") && !sa.equals("no")) return this.fail("malformed XML declaration");
      this.skipSpace();
    }
    if (!this.has("?>")) return this.fail("malformed XML declaration");
    this.i += 2;
    return true;
  }

  /** `S? = S? 'value'` in the declaration; the value as raw bytes. */
  declValue(): Bytes | null {
    this.skipSpace();
    if (this.i >= this.n || this.at(this.i) != EQUALS) {
      this.fail("malformed XML declaration");
      return null;
    }
    this.i++;
    this.skipSpace();
    if (this.i >= this.n || (this.at(this.i) != QUOT && this.at(this.i) != APOS)) {
      this.fail("malformed XML declaration");
      return null;
    }
    const q = this.at(this.i++);
    const start = this.i;
    while (this.i < this.n && this.at(this.i) != q) {
      if (this.i - start > 32) break;
      this.i++;
    }
    if (this.i >= this.n || this.at(this.i) != q) {
      this.fail("malformed XML declaration");
      return null;
    }
    const v = this.input.slice(start, this.i);
    this.i++;
    return v;
  }

  /** A QName at the cursor; returns its bytes and leaves the colon offset (or -1) in `lastColon`. */
  name(): Bytes | null {
    const start = this.i;
    let colon = -1;
    let needStart = true;
    while (this.i < this.n) {
      const c = this.at(this.i);
      let len = 1;
      let cp: u32 = c;
      if (c >= 0x80) {
        len = this.decodeMultiByte();
        if (len == 0) break;
        cp = this.cp;
      } else if (c < 0x20) {
        break; // not a name character (nor, mostly, an XML one: the caller reports which)
      }
      if (cp == COLON) {
        if (needStart || colon >= 0) {
          this.fail("malformed qualified name");
          return null;
        }
        colon = this.i - start;
        needStart = true;
      } else if (needStart) {
        if (!isNameStart(cp)) break;
        needStart = false;
      } else if (!isNameChar(cp)) {
        break;
      }
      this.i += len;
      if (this.i - start > XML_MAX_NAME) {
        this.fail("name longer than 256 bytes");
        return null;
      }
    }
    if (needStart) {
      if (this.i < this.n && this.decodeChar() == 0) this.badChar();
      else this.fail(this.i == start ? "missing name" : "malformed qualified name");
      return null;
    }
    this.lastColon = colon;
    return this.input.slice(start, this.i);
  }

  startTag(): bool {
    if (this.open.length >= XML_MAX_DEPTH) return this.fail("elements nested deeper than 32");
    if (this.elementCount >= XML_MAX_ELEMENTS) return this.fail("more than 4096 elements");
    this.i++; // '<'
    const qname = this.name();
    if (qname == null) return false;
    const colon = this.lastColon;
    const raw = this.raw;
    raw.length = 0;
    let selfClosing = false;
    while (true) {
      const spaced = this.skipSpace();
      if (this.i >= this.n) return this.fail("truncated start tag");
      const c = this.at(this.i);
      if (c == GT) {
        this.i++;
        break;
      }
      if (c == SLASH) {
        if (this.i + 1 < this.n && this.at(this.i + 1) == GT) {
          this.i += 2;
          selfClosing = true;
          break;
        }
        return this.fail("malformed start tag");
      }
      if (!spaced) return this.fail("malformed start tag");
      if (raw.length >= XML_MAX_ATTRIBUTES) return this.fail("more than 32 attributes on an element");
      if (this.attributeCount >= XML_MAX_TOTAL_ATTRIBUTES) return this.fail("more than 1024 attributes");
      this.attributeCount++;
      const aname = this.name();
      if (aname == null) return false;
      const acolon = this.lastColon;
      for (let k = 0; k < raw.length; k++) {
        if (sameBytes(raw[k].name, aname)) return this.fail("duplicate attribute");
      }
      this.skipSpace();
      if (this.i >= this.n || this.at(this.i) != EQUALS) return this.fail("attribute without value");
      this.i++;
      this.skipSpace();
      const value = this.attributeValue();
      if (value == null) return false;
      raw.push(new RawAttribute(aname, acolon, value));
    }

    // Namespace declarations first: they apply to this element's own name and attributes.
    const mark = this.prefixes.length;
    for (let k = 0; k < raw.length; k++) {
      const a = raw[k];
      if (a.colon < 0 && a.name.equals("xmlns")) {
        if (!this.bind("", a.value)) return false;
      } else if (a.colon == 5 && a.name.startsWith("xmlns:")) {
        if (!this.bind(a.name.slice(6, a.name.len).toText(), a.value)) return false;
      }
    }
    const ns = this.resolve(qname, colon, true);
    if (ns == null) return false;
    const element = new XmlElement(ns, localPart(qname, colon), qname);
    for (let k = 0; k < raw.length; k++) {
      const a = raw[k];
      if ((a.colon < 0 && a.name.equals("xmlns")) || (a.colon == 5 && a.name.startsWith("xmlns:"))) continue;
      const ans = this.resolve(a.name, a.colon, false);
      if (ans == null) return false;
      const local = localPart(a.name, a.colon);
      if (element.attribute(ans, local) != null) return this.fail("duplicate attribute after namespace resolution");
      element.attributes.push(new XmlAttribute(ans, local, a.value));
    }

    this.elementCount++;
    if (this.open.length == 0) this.root = element;
    else this.open[this.open.length - 1].children.push(element);
    if (selfClosing) {
      this.prefixes.length = mark;
      this.uris.length = mark;
    } else {
      this.open.push(element);
      this.marks.push(mark);
    }
    return true;
  }

  bind(prefix: string, uri: string): bool {
    if (prefix == "xmlns") return this.fail("the xmlns prefix cannot be declared");
    if (prefix == "xml") return uri == XML_NAMESPACE ? true : this.fail("the xml prefix cannot be rebound");
    if (uri == XML_NAMESPACE || uri == XMLNS_NAMESPACE) return this.fail("reserved namespace bound to another prefix");
    if (prefix.length > 0 && uri.length == 0) return this.fail("prefix bound to an empty namespace");
    this.prefixes.push(prefix);
    this.uris.push(uri);
    return true;
  }

  /** The namespace of a qualified name; unprefixed attributes have none, unprefixed elements the default one. */
  resolve(qname: Bytes, colon: i32, isElement: bool): string | null {
    if (colon < 0 && !isElement) return "";
    // The prefix stays bytes: compared with the bound prefixes (valid UTF-8 made text) without decoding it.
    const prefix = qname.slice(0, colon < 0 ? 0 : colon);
    if (prefix.equals("xml")) return XML_NAMESPACE;
    if (prefix.equals("xmlns")) {
      this.fail("element in the xmlns namespace");
      return null;
    }
    for (let k = this.prefixes.length - 1; k >= 0; k--) {
      if (prefix.equals(this.prefixes[k])) return this.uris[k];
    }
    if (prefix.len == 0) return "";
    this.fail("undeclared namespace prefix");
    return null;
  }

  /** A quoted attribute value with references decoded and whitespace normalised (XML 1.0 §3.3.3). */
  attributeValue(): string | null {
    if (this.i >= this.n || (this.at(this.i) != QUOT && this.at(this.i) != APOS)) {
      this.fail("attribute value not quoted");
      return null;
    }
    const q = this.at(this.i++);
    const out = this.scratch;
    out.len = 0;
    let run = this.i;
    while (true) {
      if (this.i >= this.n) {
        this.fail("truncated attribute value");
        return null;
      }
      const c = this.at(this.i);
      if (c == q) {
        out.append(this.input.ptr + <usize>run, this.i - run);
        this.i++;
        break;
      }
      if (c == LT) {
        this.fail("'<' in attribute value");
        return null;
      }
      if (c == AMP || c == TAB || c == LF || c == CR) {
        out.append(this.input.ptr + <usize>run, this.i - run);
        if (c == AMP) {
          if (!this.reference()) return null;
          out.codePoint(this.cp);
        } else {
          this.i++;
          if (c == CR && this.i < this.n && this.at(this.i) == LF) this.i++;
          out.byte(SPACE);
        }
        run = this.i;
        continue;
      }
      const len = this.decodeChar();
      if (len == 0) {
        this.badChar();
        return null;
      }
      this.i += len;
    }
    if (!this.countText(out.len)) return null;
    return out.view().toText();
  }

  /** `&name;` or `&#...;` at the cursor, leaving the character in `cp`. Only the five predefined entities exist. */
  reference(): bool {
    this.i++; // '&'
    if (this.has("#x")) {
      this.i += 2;
      return this.charRef(16);
    }
    if (this.has("#")) {
      this.i++;
      return this.charRef(10);
    }
    if (this.has("lt;")) { this.cp = 0x3c; this.i += 3; return true; }
    if (this.has("gt;")) { this.cp = 0x3e; this.i += 3; return true; }
    if (this.has("amp;")) { this.cp = 0x26; this.i += 4; return true; }
    if (this.has("apos;")) { this.cp = 0x27; this.i += 5; return true; }
    if (this.has("quot;")) { this.cp = 0x22; this.i += 5; return true; }
    return this.fail("undefined entity");
  }

  charRef(radix: u32): bool {
    let v: u32 = 0;
    let digits = 0;
    while (this.i < this.n) {
      const c = <u32>this.at(this.i);
      let d: u32 = 0;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (radix == 16 && c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (radix == 16 && c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else break;
      v = v * radix + d;
      if (v > 0x10ffff) return this.fail("character reference out of range");
      digits++;
      this.i++;
    }
    if (digits == 0 || this.i >= this.n || this.at(this.i) != SEMI) return this.fail("malformed character reference");
    this.i++;
    if (!isXmlChar(v)) return this.fail("character reference to a character not allowed in XML");
    this.cp = v;
    return true;
  }

  countText(n: i32): bool {
    this.textTotal += n;
    return this.textTotal <= XML_MAX_TEXT ? true : this.fail("more than 256 KiB of text");
  }

  /** Character data up to the next '<', appended to the open element. */
  charData(): bool {
    const element = this.open[this.open.length - 1];
    const out = element.textBuffer;
    const before = out.len;
    let nonSpace = false;
    let run = this.i;
    while (this.i < this.n) {
      const c = this.at(this.i);
      if (c == LT) break;
      if (c == AMP || c == CR) {
        out.append(this.input.ptr + <usize>run, this.i - run);
        if (c == AMP) {
          if (!this.reference()) return false;
          out.codePoint(this.cp);
          if (!(this.cp == 0x20 || this.cp == 0x9 || this.cp == 0xa || this.cp == 0xd)) nonSpace = true;
        } else {
          this.i++;
          if (this.i < this.n && this.at(this.i) == LF) this.i++;
          out.byte(LF);
        }
        run = this.i;
        continue;
      }
      if (c == RBRACKET && this.has("]]>")) return this.fail("']]>' in text");
      const len = this.decodeChar();
      if (len == 0) return this.badChar();
      if (!isSpace(c)) nonSpace = true;
      this.i += len;
    }
    out.append(this.input.ptr + <usize>run, this.i - run);
    if (nonSpace) element.hasNonWhitespaceText = true;
    return this.countText(out.len - before);
  }

  /** `<![CDATA[ ... ]]>`: literal text with line ends normalised. */
  cdata(): bool {
    const element = this.open[this.open.length - 1];
    const out = element.textBuffer;
    const before = out.len;
    let nonSpace = false;
    this.i += 9;
    let run = this.i;
    while (true) {
      if (this.i >= this.n) return this.fail("unterminated CDATA section");
      const c = this.at(this.i);
      if (c == RBRACKET && this.has("]]>")) break;
      if (c == CR) {
        out.append(this.input.ptr + <usize>run, this.i - run);
        this.i++;
        if (this.i < this.n && this.at(this.i) == LF) this.i++;
        out.byte(LF);
        run = this.i;
        continue;
      }
      const len = this.decodeChar();
      if (len == 0) return this.badChar();
      if (!isSpace(c)) nonSpace = true;
      this.i += len;
    }
    out.append(this.input.ptr + <usize>run, this.i - run);
    this.i += 3;
    if (nonSpace) element.hasNonWhitespaceText = true;
    return this.countText(out.len - before);
  }

  /** `<!-- ... -->`, skipped; `--` may only close it. */
  comment(): bool {
    this.i += 4;
    while (this.i < this.n) {
      const c = this.at(this.i);
      if (c == DASH && this.i + 1 < this.n && this.at(this.i + 1) == DASH) {
        if (this.i + 2 < this.n && this.at(this.i + 2) == GT) {
          this.i += 3;
          return true;
        }
        return this.fail("'--' inside a comment");
      }
      const len = this.decodeChar();
      if (len == 0) return this.badChar();
      this.i += len;
    }
    return this.fail("unterminated comment");
  }

  endTag(): bool {
    this.i += 2;
    const qname = this.name();
    if (qname == null) return false;
    this.skipSpace();
    if (this.i >= this.n || this.at(this.i) != GT) return this.fail("malformed end tag");
    const element = this.open[this.open.length - 1];
    if (!sameBytes(element.rawName, qname)) return this.fail("mismatched end tag");
    this.i++;
    this.open.pop();
    const mark = this.marks.pop();
    this.prefixes.length = mark;
    this.uris.length = mark;
    return true;
  }
}

function localPart(qname: Bytes, colon: i32): string {
  return colon < 0 ? qname.toText() : qname.slice(colon + 1, qname.len).toText();
}

function asciiEqualsIgnoreCase(b: Bytes, lower: string): bool {
  if (b.len != lower.length) return false;
  for (let k = 0; k < b.len; k++) {
    let c = <u32>b.at(k);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c != <u32>lower.charCodeAt(k)) return false;
  }
  return true;
}
