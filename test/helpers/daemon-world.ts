// What a daemon's end-to-end tests (sshd, Dovecot) start once around their daemons: the Kopano emulator on a unix
// socket (world-writable: the daemon's workers connect as whichever user they run as), the /dev/log capture, a
// server that accepts and never answers, and a port where nothing listens; all in one shared temporary directory.
import { rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { startEmulator, type Emulator, type UserDb } from "../../host/emulator/index.js";
import { freePort, sharedTempDir, stopAll } from "./daemons.js";
import { startSyslogCapture, type SyslogCapture } from "./syslog-capture.js";

export interface DaemonWorld {
  dir: string;
  emulator: Emulator;
  kopanoSocket: string;
  syslog: SyslogCapture;
  /** a server on 127.0.0.1 that accepts and never answers */
  hangPort: number;
  /** a port on 127.0.0.1 where nothing listens */
  deadPort: number;
  /** Stops all of the above and removes the directory. */
  close(): Promise<void>;
}

export async function startDaemonWorld(tempPrefix: string, users: UserDb): Promise<DaemonWorld> {
  const dir = sharedTempDir(tempPrefix);
  const hanging = new Set<net.Socket>();
  let emulator: Emulator | undefined;
  let syslog: SyslogCapture | undefined;
  let hangServer: net.Server | undefined;
  const close = () => stopAll(() => emulator?.close(), () => syslog?.stop(), () => {
    for (const s of hanging) s.destroy();
    return new Promise<void>((resolve) => (hangServer ? hangServer.close(() => resolve()) : resolve()));
  }, () => rmSync(dir, { recursive: true, force: true }));
  try {
    const kopanoSocket = path.join(dir, "kopano.sock");
    emulator = await startEmulator({ users, listen: [{ unix: { path: kopanoSocket, mode: 0o666 } }] });
    syslog = await startSyslogCapture();
    const server = net.createServer((socket) => {
      hanging.add(socket);
      socket.on("close", () => hanging.delete(socket));
      socket.on("error", () => {});
    });
    hangServer = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const hangPort = (server.address() as net.AddressInfo).port;
    const deadPort = await freePort();
    return { dir, emulator, kopanoSocket, syslog, hangPort, deadPort, close };
  } catch (error) {
    await close();
    throw error;
  }
}
