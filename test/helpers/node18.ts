// Debian 12's own Node.js 18, for running the pam-mapi command under the Node the .deb's users have: its packages
// are fetched and unpacked into build/node18/root by scripts/debian-node18.sh (cached), never installed. A command
// runs inside a private mount namespace (unshare -m, root only) where that root's /usr is laid over the machine's
// /usr with overlayfs: /usr/bin/node is Debian's 18, and its libraries (libnode108, and the JavaScript it reads from
// /usr/share/nodejs) are where it looks for them. The machine's own Node is untouched outside the namespace.
import { execFileSync } from "node:child_process";
import { repoRoot } from "./guest.js";

/** The unpacked root (build/node18/root), fetched first if it is missing. */
export function debianNode18Root(): string {
  const out = execFileSync("bash", ["scripts/debian-node18.sh"], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").pop()!;
}

/** `command args` inside the namespace where /usr/bin/node is Debian's Node 18. */
export function underNode18(root: string, command: string, args: string[]): [string, string[]] {
  if (root.includes("'") || root.includes(":") || root.includes(",")) throw new Error(`unusable path for an overlay: ${root}`);
  const script = `mount -t overlay overlay -o 'lowerdir=${root}/usr:/usr' /usr && exec "$@"`;
  return ["unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", command, ...args]];
}
