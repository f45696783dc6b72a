// A minimal SMTP client for one AUTH PLAIN attempt per connection (RFC 4954): greeting, EHLO, AUTH PLAIN, QUIT.
// A fresh connection per attempt matters: Postfix answers a second AUTH on the same session with 503.
import net from "node:net";

export interface SmtpReply {
  code: number;
  /** The reply's lines, codes included. */
  lines: string[];
}

export interface AuthResult {
  /** The reply to AUTH PLAIN: 235 accepted, 535 rejected, 454 temporary failure. */
  code: number;
  text: string;
  /** EHLO keywords offered by the server (upper case), e.g. "AUTH PLAIN LOGIN". */
  ehlo: string[];
}

/** Reads CRLF-terminated SMTP replies (multi-line: "250-..." continued until "250 ..."). */
class ReplyReader {
  private buffered = "";
  private lines: string[] = [];
  private waiting?: { resolve: (reply: SmtpReply) => void; reject: (error: Error) => void };
  private failure?: Error;

  constructor(socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffered += chunk;
      this.deliver();
    });
    socket.once("error", (error) => this.fail(error));
    socket.once("close", () => this.fail(new Error("SMTP connection closed")));
  }

  next(): Promise<SmtpReply> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.deliver();
    });
  }

  private deliver() {
    if (!this.waiting) return;
    let end: number;
    while ((end = this.buffered.indexOf("\r\n")) >= 0) {
      const line = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 2);
      this.lines.push(line);
      if (/^\d{3}( |$)/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), lines: this.lines };
        this.lines = [];
        const { resolve } = this.waiting;
        this.waiting = undefined;
        resolve(reply);
        return;
      }
    }
    if (this.failure) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(this.failure);
    }
  }

  private fail(error: Error) {
    this.failure ??= error;
    this.deliver();
  }
}

/**
 * Connect, EHLO, `AUTH PLAIN base64("\0user\0password")` (UTF-8), QUIT. Resolves with the AUTH reply; rejects if
 * the server does not offer AUTH PLAIN or misbehaves. The password is never part of an error message.
 */
export async function smtpAuthPlain(options: { host?: string; port: number; user: string; password: string; timeoutMs?: number }): Promise<AuthResult> {
  const socket = net.connect({ host: options.host ?? "127.0.0.1", port: options.port });
  socket.setTimeout(options.timeoutMs ?? 30_000, () => socket.destroy(new Error("SMTP server did not answer in time")));
  const replies = new ReplyReader(socket);
  const expect = async (what: string, codes: number[]) => {
    const reply = await replies.next();
    if (!codes.includes(reply.code)) throw new Error(`SMTP ${what}: unexpected reply ${reply.lines.join(" | ")}`);
    return reply;
  };
  const send = (line: string) => socket.write(line + "\r\n");
  try {
    await expect("greeting", [220]);
    send("EHLO client.localhost");
    const ehlo = (await expect("EHLO", [250])).lines.slice(1).map((line) => line.slice(4).toUpperCase());
    const auth = ehlo.find((keyword) => keyword.startsWith("AUTH "));
    if (!auth || !auth.split(" ").includes("PLAIN")) throw new Error(`SMTP server offers no AUTH PLAIN: ${ehlo.join(", ")}`);
    const token = Buffer.from(`\0${options.user}\0${options.password}`, "utf8");
    send(`AUTH PLAIN ${token.toString("base64")}`);
    token.fill(0);
    const reply = await replies.next();
    send("QUIT");
    await replies.next().catch(() => undefined);
    return { code: reply.code, text: reply.lines.join("\n"), ehlo };
  } finally {
    socket.destroy();
  }
}
