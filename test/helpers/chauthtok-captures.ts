// The byte-exact setUser captures of a real Kopano 11.0.2 server, as ../shared/docs/kopano-chauthtok.md shows them
// (§9-§10): blocks whose CRs are not displayed. They are rebuilt here (CRLF header lines, CRLF CRLF separator,
// CRLF after each response body) and checked against the byte counts the document gives.
import { readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./guest.js";
import type { UserDb } from "../../host/emulator/index.js";

export const chauthtokDoc = path.resolve(repoRoot, "../shared/docs/kopano-chauthtok.md");

export interface Capture { name: string; raw: Buffer; head: string; body: Buffer }

/** Every complete capture block (those that start with a request or status line), by file name. */
export function chauthtokCaptures(): Map<string, Capture> {
  const text = readFileSync(chauthtokDoc, "utf8");
  const out = new Map<string, Capture>();
  const block = /`captures\/([^`]+)` \((\d+) bytes\)\n```\n([\s\S]*?)\n```/g;
  for (let m = block.exec(text); m; m = block.exec(text)) {
    const [, name, size, shown] = m;
    if (!/^(POST |HTTP\/1\.1 )/.test(shown)) continue;
    const split = shown.indexOf("\n\n");
    const head = shown.slice(0, split).split("\n").join("\r\n");
    let body = shown.slice(split + 2);
    if (shown.startsWith("HTTP/")) body += "\r\n";
    const raw = Buffer.from(`${head}\r\n\r\n${body}`, "utf8");
    if (raw.length !== Number(size)) throw new Error(`${name}: rebuilt ${raw.length} bytes, the document says ${size}`);
    out.set(name, { name, raw, head, body: Buffer.from(body, "utf8") });
  }
  return out;
}

/** pwtest1..4 (ids 6-9) and pwadmin (10, admin) as the document set them up: imap enabled, mobile disabled. */
export function pwtestUsers(): UserDb {
  const user = (n: number, name: string, extra: object = {}) => ({
    name, password: "Old-pass1", id: n, fullName: name === "pwadmin" ? "Pw Admin" : `Pw Test ${n - 5}`,
    email: `${name}@example.test`, enabledFeatures: ["imap"], disabledFeatures: ["mobile"], ...extra,
  });
  return {
    users: [user(6, "pwtest1"), user(7, "pwtest2"), user(8, "pwtest3"), user(9, "pwtest4"), user(10, "pwadmin", { admin: 1 })],
  };
}
