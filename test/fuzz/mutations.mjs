// Structure-aware mutations of SOAP replies for the fuzzer, as fast-check arbitraries. A mutation is plain data
// (so fast-check can shrink it) applied to a seed: first on the DOM (@xmldom/xmldom), then on the serialised text,
// then on the bytes. The seeds are every reply body in ../shared/fixtures/wire.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";

/** De-chunked body of a raw HTTP message. */
function httpBody(raw) {
  const end = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, end).toString("latin1");
  let body = raw.subarray(end + 4);
  if (/^transfer-encoding:\s*chunked/im.test(head)) {
    const parts = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf("\r\n", at);
      const size = parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
      if (!size) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    const len = /^content-length:\s*(\d+)/im.exec(head);
    if (len) body = body.subarray(0, Number(len[1]));
  }
  return body;
}

/** Every reply body in the wire captures: *.resp.raw, the server halves of conversations, generated *.res.xml. */
export function loadSeeds(wireDir) {
  const seeds = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, name.name);
      if (name.isDirectory()) walk(file);
      else if (name.name.endsWith(".resp.raw")) seeds.push({ name: name.name, body: httpBody(readFileSync(file)) });
      else if (name.name.endsWith(".res.xml")) seeds.push({ name: name.name, body: readFileSync(file) });
      else if (name.name.endsWith(".txt") && name.name !== "INDEX.txt") {
        const raw = readFileSync(file);
        const text = raw.toString("latin1");
        const marker = /^<<<<< [^\n]*\n/gm;
        let k = 0;
        for (let m = marker.exec(text); m; m = marker.exec(text)) {
          const start = m.index + m[0].length;
          const next = text.indexOf("\n>>>>> ", start);
          const nextReply = text.indexOf("\n<<<<< ", start);
          const stop = Math.min(...[next, nextReply, raw.length].filter((x) => x >= 0));
          seeds.push({ name: `${name.name}#${++k}`, body: httpBody(raw.subarray(start, stop)) });
        }
      }
    }
  };
  walk(wireDir);
  return seeds.filter((s) => s.body.length > 0);
}

const NAMES = [
  "er", "ulSessionId", "lpszVersion", "ulCapabilities", "sServerGuid", "lpsLogonResponse", "logonResponse",
  "getUserResponse", "lpsUserGetResponse", "lpsUser", "lpszUsername", "ulObjClass", "lpsMVPropmap", "item",
  "ulPropId", "sValues", "result", "logoffResponse", "Envelope", "Body", "Header", "Fault", "faultcode",
  "faultstring", "ns:logonResponse", "ns:er", "SOAP-ENV:Body", "SOAP-ENV:Envelope", "SOAP-ENV:Header",
  "SOAP-ENV:Fault", "x:er", "ns:getUserResponse", "ns:logoffResponse", "ER", "Er", "er2", "a",
];
const URIS = [
  "urn:zarafa", "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope",
  "http://schemas.xmlsoap.org/soap/encoding/", "urn:other", "", "urn:Zarafa", "http://www.w3.org/XML/1998/namespace",
];
const PREFIXES = ["ns", "SOAP-ENV", "SOAP-ENC", "xsi", "x", "", "xml", "xmlns"];
const ATTRIBUTES = [
  ["xsi:nil", "true"], ["SOAP-ENC:arrayType", "xsd:string[2]"], ["SOAP-ENC:arrayType", "xsd:string[0]"],
  ["SOAP-ENC:arrayType", "xsd:int[1]"], ["href", "#_1"], ["id", "_1"], ["xsi:type", "xsd:unsignedInt"],
  ["SOAP-ENV:encodingStyle", "http://schemas.xmlsoap.org/soap/encoding/"], ["ns:er", "0"], ["er", "0"],
];
const TEXTS = [
  "0", "1", "00", "000000000000000000000", " 0", "0 ", "+0", "-0", "0x0", "1e0", "", "2147483657", "2147483665",
  "4294967295", "4294967296", "18446744073709551615", "18446744073709551616", "99999999999", "0\n", "&#48;",
  "0,11,0,2", "0,8,4,0", "0,8,5,0", "5,0,0", "0,7,2,0,48204", "0,999999,0", "0,1000000,0", "imap", "pop3",
  "mobile", "webapp", "alice", "ALICE", "\u00e4\u00f6", "\u0085", "\u007f", "x".repeat(257), "<", "]]>", "1739853854",
  "1739788318", "12345678901234567890",
];
const WRAPS = ["lpsLogonResponse", "lpsUserGetResponse", "item", "x", "ns:logonResponse", "SOAP-ENV:Body", "lpsUser"];

const pick = (arr) => fc.nat({ max: arr.length - 1 }).map((i) => arr[i]);
const index = fc.nat({ max: 63 });

/** One DOM-level mutation. Element indexes are taken modulo the number of elements in document order. */
const domMutation = fc.oneof(
  fc.record({ op: fc.constant("move"), el: index, to: index, at: fc.nat({ max: 4 }) }),
  fc.record({ op: fc.constant("duplicate"), el: index, to: index }),
  fc.record({ op: fc.constant("nest"), el: index, name: pick(WRAPS) }),
  fc.record({ op: fc.constant("rename"), el: index, name: pick(NAMES) }),
  fc.record({ op: fc.constant("rebind"), el: index, prefix: pick(PREFIXES), uri: pick(URIS) }),
  fc.record({ op: fc.constant("attribute"), el: index, attr: pick(ATTRIBUTES) }),
  fc.record({ op: fc.constant("remove"), el: index }),
  fc.record({ op: fc.constant("text"), el: index, text: fc.oneof(pick(TEXTS), fc.string({ maxLength: 12 })) }),
  fc.record({ op: fc.constant("comment"), el: index, at: fc.nat({ max: 4 }) }),
  fc.record({ op: fc.constant("cdata"), el: index }),
);

/** One text-level mutation on the serialised reply. Positions are fractions of the length. */
const textMutation = fc.oneof(
  fc.record({ op: fc.constant("reference"), at: fc.double({ min: 0, max: 1, noNaN: true }), hex: fc.boolean() }),
  fc.record({ op: fc.constant("insert"), at: fc.double({ min: 0, max: 1, noNaN: true }),
    text: fc.oneof(pick(["<!--c-->", "<![CDATA[0]]>", "<?pi x?>", "&amp;", "&lt;", "&unknown;", "&#0;", "&#x10FFFF;",
      "&#xD800;", " ", "\r\n", "<!DOCTYPE x>", "<!ENTITY e 'x'>", "<x/>", "</er>", "<er>0</er>", "\u0000", "\ufeff"]),
    fc.string({ maxLength: 6 })) }),
  fc.record({ op: fc.constant("truncate"), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ op: fc.constant("prologue"), text: pick([
    '<?xml version="1.0" encoding="ISO-8859-1"?>', '<?xml version="1.1"?>', "<!DOCTYPE Envelope [<!ENTITY z \"0\">]>",
    "\ufeff", '<?xml version="1.0" encoding="UTF-8"?><?xml version="1.0"?>', "<!-- c -->", " ", "x"]) }),
);

/** One byte-level mutation. */
const byteMutation = fc.record({ op: fc.constant("byte"), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.nat({ max: 255 }),
  mode: pick(["set", "insert", "delete"]) });

const elementsOf = (doc) => Array.from(doc.getElementsByTagName("*"));

function applyDom(doc, m) {
  const els = elementsOf(doc);
  if (els.length === 0) return;
  const el = els[m.el % els.length];
  const root = doc.documentElement;
  switch (m.op) {
    case "move": {
      const to = els[m.to % els.length];
      if (el === root || el.contains?.(to) || isAncestor(el, to)) return;
      const kids = Array.from(to.childNodes);
      const before = kids[m.at % (kids.length + 1)] ?? null;
      if (before === el) return; // xmldom would link the node to itself
      to.insertBefore(el, before);
      return;
    }
    case "duplicate": {
      if (el === root) return;
      const to = els[m.to % els.length];
      const copy = el.cloneNode(true);
      if (m.to % 2 === 0) el.parentNode.insertBefore(copy, el.nextSibling);
      else to.appendChild(copy);
      return;
    }
    case "nest": {
      if (el === root) return;
      const wrap = doc.createElement(m.name);
      el.parentNode.insertBefore(wrap, el);
      wrap.appendChild(el);
      return;
    }
    case "rename": {
      const renamed = doc.createElement(m.name);
      for (let k = 0; k < el.attributes.length; k++) renamed.setAttribute(el.attributes[k].name, el.attributes[k].value);
      while (el.firstChild) renamed.appendChild(el.firstChild);
      if (el === root) doc.replaceChild(renamed, el);
      else el.parentNode.replaceChild(renamed, el);
      return;
    }
    case "rebind":
      el.setAttribute(m.prefix ? `xmlns:${m.prefix}` : "xmlns", m.uri);
      return;
    case "attribute":
      el.setAttribute(m.attr[0], m.attr[1]);
      return;
    case "remove":
      if (el !== root) el.parentNode.removeChild(el);
      return;
    case "text":
      while (el.firstChild) el.removeChild(el.firstChild);
      el.appendChild(doc.createTextNode(m.text));
      return;
    case "comment": {
      const kids = Array.from(el.childNodes);
      el.insertBefore(doc.createComment(" fuzz "), kids[m.at % (kids.length + 1)] ?? null);
      return;
    }
    case "cdata": {
      for (const n of Array.from(el.childNodes)) {
        if (n.nodeType === 3 && !n.data.includes("]]>")) el.replaceChild(doc.createCDATASection(n.data), n);
      }
      return;
    }
  }
}

function isAncestor(a, b) {
  for (let n = b; n; n = n.parentNode) if (n === a) return true;
  return false;
}

/** Position `at` (0..1) inside a string of length n. */
const position = (at, n) => Math.min(n, Math.floor(at * (n + 1)));

function applyText(text, m) {
  switch (m.op) {
    case "reference": {
      // replace one character of character data (outside markup) by a character reference: same meaning
      const p = Math.max(0, position(m.at, text.length - 1));
      for (let k = p; k < text.length; k++) {
        const c = text[k];
        if (c === "<" || c === ">" || c === "&") continue;
        const before = text.lastIndexOf("<", k), close = text.lastIndexOf(">", k);
        if (close < before) continue; // inside a tag
        const cp = text.codePointAt(k);
        const ref = m.hex ? `&#x${cp.toString(16)};` : `&#${cp};`;
        return text.slice(0, k) + ref + text.slice(k + (cp > 0xffff ? 2 : 1));
      }
      return text;
    }
    case "insert": {
      const p = position(m.at, text.length);
      return text.slice(0, p) + m.text + text.slice(p);
    }
    case "truncate":
      return text.slice(0, position(m.at, text.length));
    case "prologue":
      return m.text + text.replace(/^<\?xml[^>]*\?>\s*/, m.text.startsWith("<?xml") ? "" : "$&");
  }
  return text;
}

function applyBytes(bytes, m) {
  const p = position(m.at, bytes.length);
  const b = Buffer.from(bytes);
  if (m.mode === "set" && p < b.length) b[p] = m.value;
  if (m.mode === "insert") return Buffer.concat([b.subarray(0, p), Buffer.from([m.value]), b.subarray(p)]);
  if (m.mode === "delete") return Buffer.concat([b.subarray(0, p), b.subarray(p + 1)]);
  return b;
}

/** The bytes of a mutated seed (the mutations are applied in order: DOM, then text, then bytes). */
export function mutate(seed, plan) {
  let text = seed.toString("utf8");
  if (plan.dom.length > 0) {
    const doc = new DOMParser({ errorHandler: { warning() {}, error() {}, fatalError() {} } }).parseFromString(text, "text/xml");
    if (doc?.documentElement) {
      for (const m of plan.dom) {
        try {
          applyDom(doc, m);
        } catch {
          // xmldom refuses some tree shapes (a CDATA node where it wants text): skip that mutation
        }
      }
      const decl = /^<\?xml[^>]*\?>\s*/.exec(text)?.[0] ?? "";
      text = decl + new XMLSerializer().serializeToString(doc.documentElement);
    }
  }
  for (const m of plan.text) text = applyText(text, m);
  let bytes = Buffer.from(text, "utf8");
  for (const m of plan.bytes) bytes = applyBytes(bytes, m);
  return bytes;
}

/** A reply body: a mutated seed (most of the time), or bytes made from nothing. */
export function replyArbitrary(seeds) {
  const mutated = fc.record({
    seed: fc.nat({ max: seeds.length - 1 }),
    dom: fc.array(domMutation, { maxLength: 6 }),
    text: fc.array(textMutation, { maxLength: 3 }),
    bytes: fc.array(byteMutation, { maxLength: 2 }),
  }).map((plan) => ({ kind: "mutated", seedName: seeds[plan.seed].name, plan, body: mutate(seeds[plan.seed].body, plan) }));
  const raw = fc.oneof(
    fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 300 }).map((s) => Buffer.from(s, "utf8")),
  ).map((body) => ({ kind: "generated", body }));
  return fc.oneof({ weight: 12, arbitrary: mutated }, { weight: 1, arbitrary: raw });
}
