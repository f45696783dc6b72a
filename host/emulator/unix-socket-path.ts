// Where `--unix PATH` may listen. The emulator replaces only a stale socket (one nobody accepts on, left by a
// server that died); a regular file, a directory, a symbolic link or a socket that a live server (perhaps the
// real kopano-server at /var/run/kopano/server.sock) accepts on is refused, as `--http` refuses a busy port.
import { lstatSync, unlinkSync } from "node:fs";
import net from "node:net";

export class UnixPathRefused extends Error {
  constructor(readonly path: string, readonly cause_: string, readonly fix: string) {
    super(`${path}: ${cause_}`);
  }
}

/** Resolves once a connect to `path` has been accepted (true) or refused (false). */
function someoneAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const done = (live: boolean) => {
      socket.destroy();
      resolve(live);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false)); // ECONNREFUSED: nobody listens behind the inode
    socket.setTimeout(2000, () => done(true)); // a listener with a full backlog is alive
  });
}

/** Makes `path` free for a new listener, or throws UnixPathRefused with the cause and the fix. */
export async function claimUnixPath(path: string): Promise<void> {
  let kind: string;
  try {
    const st = lstatSync(path);
    if (st.isSocket()) kind = "socket";
    else if (st.isFile()) kind = "a regular file";
    else if (st.isDirectory()) kind = "a directory";
    else if (st.isSymbolicLink()) kind = "a symbolic link";
    else kind = "neither a file nor a socket";
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new UnixPathRefused(path, `cannot inspect it: ${(e as Error).message}`, "choose a --unix path in a directory you may read");
  }
  if (kind !== "socket") {
    throw new UnixPathRefused(path, `is ${kind}; the emulator replaces nothing but a stale socket`,
      "choose another --unix path (e.g. /tmp/kopano.sock), or move that file away yourself if it is yours");
  }
  if (await someoneAccepts(path)) {
    throw new UnixPathRefused(path, "is a live socket: a server (kopano-server?) accepts connections on it",
      "stop that server first, or choose another --unix path, e.g. /tmp/kopano.sock");
  }
  unlinkSync(path); // stale: its server is gone
}
