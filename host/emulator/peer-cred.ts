// SO_PEERCRED for accepted unix-socket connections. Node has no API for it, so a short python3 child gets the
// socket as its fd 3 (spawn duplicates the descriptor) and reads getsockopt(SOL_SOCKET, SO_PEERCRED).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SCRIPT = [
  'import socket, struct',
  's = socket.socket(fileno=3)',
  "print(*struct.unpack('3i', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))))",
  's.detach()',
].join('\n');

/** Attach the socket's 'data' listener first: spawn pauses the stream, and it is resumed here afterwards. */
export function peerCredentials(socket: Socket): Promise<PeerCredentials> {
  const flowingBefore = socket.readableFlowing;
  return new Promise<PeerCredentials>((resolve, reject) => {
    const child = spawn(PYTHON, ['-I', '-S', '-c', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe', socket] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /^(\d+) (\d+) (\d+)\s*$/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`SO_PEERCRED lookup failed (${code}): ${err.trim()}`));
      resolve({ pid: Number(m[1]), uid: Number(m[2]), gid: Number(m[3]) });
    });
  }).finally(() => {
    if (flowingBefore !== false && !socket.destroyed) socket.resume();
  });
}
