// A canned HTTP responder: answers every request it reads, on TCP (127.0.0.1, ephemeral port) and/or a unix
// socket, with the same raw bytes (e.g. a .resp.raw capture from ../shared/fixtures/wire/kopano-11.0.2).
// It reads a whole HTTP/1.1 request (Content-Length or chunked body) before answering, keeps the connection
// open for the next request, and records every request so tests can look at what the module sent.
import net from "node:net";
import tls from "node:tls";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { kopano11Dir } from "./captures.js";

export interface CannedRequest {
  head: string;        // request line and headers, CRLF-separated
  body: Buffer;
  connection: number;  // which connection it arrived on (1-based), to check keep-alive
}

export interface CannedServerOptions {
  /** Bytes to answer with: a Buffer, or a function of the request (to vary per request). */
  reply: Buffer | ((req: CannedRequest, index: number) => Buffer);
  tcp?: boolean;          // default true
  unix?: boolean;         // default false
  /** Close the connection after each reply (default false). */
  closeAfterReply?: boolean;
  /** Delay before answering, in ms (for deadline tests). */
  delayMs?: number;
  /** Serve TLS on the TCP listener with this PEM key and certificate (url becomes https://localhost:PORT/). */
  tls?: { key: string; cert: string };
  /** More options for the TLS listener (protocol versions, requestCert, ticketKeys...). */
  tlsOptions?: tls.TlsOptions;
}

export interface CannedServer {
  port: number;            // 0 if no TCP listener
  socketPath: string;      // "" if no unix listener
  url: string;             // http://127.0.0.1:PORT/ or file:///path
  requests: CannedRequest[];
  connections: number;
  /** The TLS listener, when there is one (to change its certificate or ticket keys as a restart would). */
  tlsServer?: tls.Server;
  /** Every TLS connection, in order (to look at what the client presented or asked for). */
  tlsSockets: tls.TLSSocket[];
  close(): Promise<void>;
}

export const WIRE_DIR = kopano11Dir;

/** A capture file's bytes, e.g. capture("tcp-a-logon-ok-alice.resp.raw"). */
export function capture(name: string): Buffer {
  return readFileSync(path.join(WIRE_DIR, name));
}

/** An HTTP/1.1 response with a correct Content-Length. */
export function httpReply(status: number, body: string | Buffer, headers: Record<string, string> = {}): Buffer {
  const b = typeof body === "string" ? Buffer.from(body) : body;
  const reason = status === 200 ? "OK" : status === 500 ? "Internal Server Error" : "Status";
  const lines = [`HTTP/1.1 ${status} ${reason}`, "Content-Type: text/xml; charset=utf-8", `Content-Length: ${b.length}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n"), b]);
}

/** Tries to take one complete request off the front of buf; returns it and the rest, or null. */
function takeRequest(buf: Buffer): { head: string; body: Buffer; rest: Buffer } | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString("latin1");
  let at = end + 4;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", at);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.subarray(at, lineEnd).toString("latin1"), 16);
      if (buf.length < lineEnd + 2 + size + 2) return null;
      if (size === 0) return { head, body: Buffer.concat(parts), rest: buf.subarray(lineEnd + 4) };
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const n = length ? Number(length[1]) : 0;
  if (buf.length < at + n) return null;
  return { head, body: buf.subarray(at, at + n), rest: buf.subarray(at + n) };
}

export async function startCannedServer(options: CannedServerOptions): Promise<CannedServer> {
  const requests: CannedRequest[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const handler = (socket: net.Socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const r = takeRequest(pending);
        if (!r) break;
        pending = r.rest;
        const req: CannedRequest = { head: r.head, body: r.body, connection };
        const index = requests.push(req) - 1;
        const bytes = typeof options.reply === "function" ? options.reply(req, index) : options.reply;
        const send = () => {
          if (socket.destroyed) return;
          if (options.closeAfterReply) socket.end(bytes);
          else socket.write(bytes);
        };
        if (options.delayMs) setTimeout(send, options.delayMs);
        else send();
      }
    });
  };

  const servers: net.Server[] = [];
  const tlsSockets: tls.TLSSocket[] = [];
  let tlsServer: tls.Server | undefined;
  let port = 0;
  let socketPath = "";
  let dir = "";
  if (options.tcp ?? true) {
    const s = options.tls
      ? tls.createServer({ ...options.tlsOptions, key: options.tls.key, cert: options.tls.cert }, (socket) => {
          tlsSockets.push(socket);
          handler(socket);
        })
      : net.createServer(handler);
    if (options.tls) tlsServer = s as tls.Server;
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    port = (s.address() as net.AddressInfo).port;
    servers.push(s);
  }
  if (options.unix) {
    dir = mkdtempSync(path.join(os.tmpdir(), "canned-"));
    socketPath = path.join(dir, "server.sock");
    const s = net.createServer(handler);
    await new Promise<void>((resolve) => s.listen(socketPath, resolve));
    servers.push(s);
  }
  return {
    port,
    socketPath,
    url: port ? (options.tls ? `https://localhost:${port}/` : `http://127.0.0.1:${port}/`) : `file://${socketPath}`,
    requests,
    tlsServer,
    tlsSockets,
    get connections() {
      return connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
