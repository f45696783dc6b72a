// Trust anchors for https from `cafile=` and `capath=`. Without either, the system store the native module uses
// (Debian's /etc/ssl/certs/ca-certificates.crt), so `pam-mapi check` trusts exactly what pam_mapi.so trusts;
// only where that file is missing does Node's compiled-in bundle apply. Certificates are always verified.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// node:crypto (dozens of internal modules) is loaded only when certificates are read, not by every `pam-mapi`
// command that imports this file (an http:// or file:// server needs no trust anchors).
const require = createRequire(import.meta.url);

export class TrustError extends Error {}

/** The words pam_mapi.so's configure step logs for the same errno (native/config_file.c). */
const FILE_ERRNO_WORDS: Record<string, string> = {
  ENOENT: "no such file or directory (ENOENT)",
  EACCES: "permission denied (EACCES)",
  ENOTDIR: "not a directory (ENOTDIR)",
  EISDIR: "is a directory (EISDIR)",
  ELOOP: "is a symbolic link (ELOOP)",
};

function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  return FILE_ERRNO_WORDS[code] ?? (e as Error).message;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificatesIn(file: string): string[] {
  const text = readFileSync(file, "latin1");
  const { X509Certificate } = require("node:crypto") as typeof import("node:crypto");
  return (text.match(PEM_CERTIFICATE) ?? []).filter((pem) => {
    try {
      new X509Certificate(pem);
      return true;
    } catch {
      return false;
    }
  });
}

/** PEM certificates from `cafile` and every file in `capath`; undefined when both are empty. */
export const SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt";

export function loadTrustAnchors(cafile: string, capath: string): string[] | undefined {
  if (cafile === "" && capath === "") {
    try {
      const system = certificatesIn(SYSTEM_CA_FILE);
      return system.length ? system : undefined;
    } catch {
      return undefined;
    }
  }
  const anchors: string[] = [];
  if (cafile !== "") {
    let found: string[];
    try {
      // As pam_mapi.so (native/config_file.c): a FIFO or a device would block the read.
      const st = statSync(cafile);
      if (!st.isFile() && !st.isDirectory()) throw new TrustError(`cafile=${cafile}: not a regular file`);
      found = certificatesIn(cafile);
    } catch (e) {
      if (e instanceof TrustError) throw e;
      throw new TrustError(`cafile=${cafile}: ${fileProblem(e)}`);
    }
    if (found.length === 0) throw new TrustError(`cafile=${cafile}: no PEM certificate in the file`);
    anchors.push(...found);
  }
  if (capath !== "") {
    let names: string[];
    try {
      names = readdirSync(capath).sort();
    } catch (e) {
      throw new TrustError(`capath=${capath}: ${fileProblem(e)}`);
    }
    const before = anchors.length;
    for (const name of names) {
      const file = path.join(capath, name);
      try {
        if (!statSync(file).isFile()) continue;
        anchors.push(...certificatesIn(file));
      } catch {
        // Like OpenSSL's capath: an unreadable or foreign file (CRL, README) is not an anchor.
      }
    }
    if (anchors.length === before) throw new TrustError(`capath=${capath}: no PEM certificate in the directory`);
  }
  return [...new Set(anchors)];
}
