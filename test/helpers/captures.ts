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

/** The messages of a `>>>>> CLIENT->SERVER` / `<<<<< SERVER->CLIENT` conversation file, bodies only (by Content-Length). */
export function conversation(file: string): { requests: Buffer[]; replies: Buffer[] } {
  const raw = readFileSync(path.join(wireDir, file));
  const requests: Buffer[] = [];
  const replies: Buffer[] = [];
  const marker = /^(>>>>>|<<<<<) [^\n]*\n/gm;
  const text = raw.toString("latin1");
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    const headStart = m.index + m[0].length;
    const headEnd = raw.indexOf("\r\n\r\n", headStart);
    const head = raw.subarray(headStart, headEnd).toString("latin1");
    const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
    const body = raw.subarray(headEnd + 4, headEnd + 4 + length);
    (m[1] === ">>>>>" ? requests : replies).push(body);
  }
  return { requests, replies };
}
