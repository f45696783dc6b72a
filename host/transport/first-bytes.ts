// An https agent whose connections keep the first bytes the server sent, so that a failed handshake can be told
// apart as the module tells it (native/tls.c): a server that answered the ClientHello with "HTTP/" speaks plain
// HTTP; any other plain-text answer is OpenSSL's own reason ("wrong version number"). Node's TLS error does not
// show the bytes, so the TCP stream is handed to TLS through a Duplex that looks at them on the way.
import net from "node:net";
import { Duplex } from "node:stream";
import type * as Https from "node:https";
import type { Socket } from "node:net";

const FIRST = Symbol("first bytes from the server");
const PEEK = 5; // "HTTP/"

/** A TCP connection as a Duplex that keeps the first PEEK bytes it read. */
class FirstBytes extends Duplex {
  first = Buffer.alloc(0);
  connected = false;

  constructor(private readonly raw: net.Socket) {
    super();
    raw.on("connect", () => {
      this.connected = true;
    });
    raw.on("data", (chunk: Buffer) => {
      if (this.first.length < PEEK) this.first = Buffer.concat([this.first, chunk]).subarray(0, PEEK);
      if (!this.push(chunk)) raw.pause();
    });
    raw.on("end", () => this.push(null));
    raw.on("error", (e) => this.destroy(e));
    raw.on("close", () => this.destroy());
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    this.raw.write(chunk, done);
  }

  override _final(done: (e?: Error | null) => void): void {
    this.raw.end(done);
  }

  override _destroy(e: Error | null, done: (e?: Error | null) => void): void {
    this.raw.destroy();
    done(e);
  }
}

type CreateConnection = (options: Record<string, unknown>, callback?: unknown) => Socket;

/** An https.Agent (keep-alive as the caller says) whose TLS connections run over FirstBytes. */
export function firstBytesAgent(https: typeof Https, options: Https.AgentOptions): Https.Agent {
  const agent = new https.Agent(options);
  const create = (agent as unknown as { createConnection: CreateConnection }).createConnection.bind(agent);
  (agent as unknown as { createConnection: CreateConnection }).createConnection = (connectOptions, callback) => {
    const tcp = new FirstBytes(net.connect({ host: connectOptions.host as string, port: connectOptions.port as number }));
    const socket = create({ ...connectOptions, socket: tcp }, callback);
    (socket as unknown as Record<symbol, FirstBytes>)[FIRST] = tcp;
    return socket;
  };
  return agent;
}

/** What the server sent first on `socket` (at most 5 bytes), and whether its TCP connection was set up. */
export function firstBytesOf(socket: Socket | null | undefined): { first: Buffer; connected: boolean } | undefined {
  const tcp = socket ? (socket as unknown as Record<symbol, FirstBytes | undefined>)[FIRST] : undefined;
  return tcp ? { first: tcp.first, connected: tcp.connected } : undefined;
}
