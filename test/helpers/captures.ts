// Read the wire captures in ../shared/fixtures/wire (a real Kopano 11.0.2 server and gSOAP-generated samples).
import { readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./guest.js";

export const wireDir = path.resolve(repoRoot, "../shared/fixtures/wire");
export const kopano11Dir = path.join(wireDir, "kopano-11.0.2");

/** Split a raw HTTP message into its head and de-chunked body. */
export function splitHttp(raw: Buffer): { head: string; body: Buffer } {
  const end = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, end).toString("latin1");
  let body = raw.subarray(end + 4);
  if (/^transfer-encoding:\s*chunked/im.test(head)) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf("\r\n", at);
      const size = parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
      if (!size) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { head, body };
}

/** The de-chunked body of kopano-11.0.2/NAME.resp.raw (or .req.raw). */
export function kopano11(name: string): Buffer {
  return splitHttp(readFileSync(path.join(kopano11Dir, name))).body;
}

/** The messages of a `>>>>> CLIENT->SERVER` / `<<<<< SERVER->CLIENT` conversation file, bodies only. */
export function conversation(file: string): { requests: string[]; replies: string[] } {
  const text = readFileSync(path.join(wireDir, file), "utf8");
  const requests: string[] = [];
  const replies: string[] = [];
  for (const block of text.split(/^(?=>>>>> |<<<<< )/m)) {
    const m = /^(>>>>>|<<<<<)[^\n]*\n([\s\S]*)$/.exec(block);
    if (!m) continue;
    const msg = m[2].replace(/\n+$/, "");
    const sep = msg.indexOf("\n\n");
    const body = sep >= 0 ? msg.slice(sep + 2) : "";
    (m[1] === ">>>>>" ? requests : replies).push(body);
  }
  return { requests, replies };
}
