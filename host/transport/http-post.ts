// One SOAP POST over http, https or a unix socket, with the rules of docs/abi.md: one absolute deadline
// (connect included), certificates and host names always verified, TLS 1.2 or newer, no client certificate,
// redirects never followed, only status 200 and 500 accepted, no content encodings, a 1 MiB reply cap.
// Runs inside the transport worker (async); sync-transport.ts makes it synchronous for the guest.
import http from "node:http";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type * as Https from "node:https";
import type { ServerUrl } from "../server-url.js";
import { MAX_REPLY_BYTES, type PostOutcome, type TransportErrorName } from "./types.js";
import { CLOSED_EARLY, errnoCause, httpStatusCause, isClosedInHandshake, MALFORMED, TIMED_OUT, tlsCause, TOO_LARGE } from "./cause.js";
import { firstBytesAgent, firstBytesOf } from "./first-bytes.js";

// node:https (with node:tls and node:crypto) is loaded only for an https:// server: the transport worker starts
// for every `pam-mapi check`, and most of them talk to a unix socket or plain HTTP.
const require = createRequire(import.meta.url);
const https = () => require("node:https") as typeof Https;

export interface PostOptions {
  deadline: number;
  /** one keep-alive agent per server per call; never shared across calls */
  agent: http.Agent;
  userAgent: string;
  ca?: string[];
  maxReplyBytes?: number;
}

export interface PostResult {
  outcome: PostOutcome;
  connectMs: number | null;
  reusedConnection: boolean;
  tlsProtocol?: string;
}

export function newAgent(target: ServerUrl): http.Agent {
  // maxSockets 1: logon, getUser and logoff go over one connection, as Kopano's own clients do.
  const options = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
  return target.kind === "https" ? firstBytesAgent(https(), options) : new http.Agent(options);
}

const REFUSED = new Set(["ECONNREFUSED", "ENOENT", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "EACCES", "ENOTSOCK", "ENOTDIR", "EAGAIN"]);
const RESOLVE = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"]);
const CLOSED = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$|HOSTNAME_MISMATCH$)/;

function classify(e: NodeJS.ErrnoException, https: boolean, tcpUp: boolean, tlsUp: boolean): TransportErrorName {
  const code = e.code ?? "";
  if (TLS_CODE.test(code)) return "tls";
  if (REFUSED.has(code)) return "refused";
  if (RESOLVE.has(code)) return "resolve";
  // As the module: an end of stream in the handshake is a TLS failure, a reset or a timeout is what it is.
  if (isClosedInHandshake(e)) return "tls";
  if (CLOSED.has(code) || e.message === "socket hang up" || e.message === "aborted") return "closed";
  if (code === "ETIMEDOUT") return "timeout";
  // Anything else that ends a connection between TCP connect and a verified TLS session is a TLS failure.
  if (https && tcpUp && !tlsUp) return "tls";
  if (code.startsWith("HPE_") || code === "ERR_INVALID_HTTP_RESPONSE") return "malformed";
  return "internal";
}

export async function httpPost(target: ServerUrl, body: Uint8Array, options: PostOptions): Promise<PostResult> {
  const first = await attempt(target, body, options);
  // A kept-alive connection the server closed while idle fails at once; retry that one case on a fresh
  // connection (what curl does too). Never after any reply byte arrived.
  if (!first.outcome.ok && first.outcome.error === "closed" && first.reusedConnection && Date.now() < options.deadline) {
    return attempt(target, body, options);
  }
  return first;
}

function attempt(target: ServerUrl, body: Uint8Array, options: PostOptions): Promise<PostResult> {
  const maxReply = options.maxReplyBytes ?? MAX_REPLY_BYTES;
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let tcpUp = false;
    let tlsUp = false;
    let connectMs: number | null = null;
    let reusedConnection = false;
    let tlsProtocol: string | undefined;
    let request: http.ClientRequest | undefined;
    let socketUsed: Socket | undefined;
    let timer: NodeJS.Timeout | undefined;

    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve({ outcome, connectMs, reusedConnection, tlsProtocol });
    };
    const fail = (error: TransportErrorName, detail: string) => {
      finish({ ok: false, error, detail });
      request?.destroy();
    };

    const remaining = options.deadline - Date.now();
    if (remaining <= 0) return fail("timeout", TIMED_OUT);
    timer = setTimeout(() => fail("timeout", TIMED_OUT), remaining);

    const headers: http.OutgoingHttpHeaders = {
      "Content-Type": "text/xml; charset=utf-8",
      "Content-Length": body.byteLength,
      "User-Agent": options.userAgent,
      // Kopano compresses only when asked through capability bits; say it anyway: no encodings, please.
      "Accept-Encoding": "identity",
    };
    try {
      if (target.kind === "unix") {
        // Kopano's own clients put the socket path in the request line; the server ignores it.
        request = http.request({ socketPath: target.socketPath, path: target.socketPath, method: "POST", headers, agent: options.agent });
      } else if (target.kind === "http") {
        request = http.request({ host: target.host, port: target.port, path: target.path, method: "POST", headers, agent: options.agent });
      } else {
        request = https().request({
          host: target.host, port: target.port, path: target.path, method: "POST", headers, agent: options.agent,
          // Never skip verification, whatever NODE_TLS_REJECT_UNAUTHORIZED says; never send a client certificate.
          rejectUnauthorized: true,
          ca: options.ca,
          minVersion: "TLSv1.2",
          servername: isIP(target.host) ? undefined : target.host,
        });
      }
    } catch (e) {
      return fail("internal", (e as Error).message);
    }

    request.on("socket", (socket: Socket) => {
      socketUsed = socket;
      const isTls = target.kind === "https";
      if (!socket.connecting && (!isTls || (socket as TLSSocket).encrypted && (socket as TLSSocket).authorized)) {
        tcpUp = tlsUp = true;
        reusedConnection = true;
        connectMs = 0;
        tlsProtocol = isTls ? ((socket as TLSSocket).getProtocol() ?? undefined) : undefined;
        return;
      }
      socket.once("connect", () => {
        tcpUp = true;
        if (!isTls) connectMs = performance.now() - started;
      });
      if (isTls) {
        socket.once("secureConnect", () => {
          tlsUp = true;
          connectMs = performance.now() - started;
          tlsProtocol = (socket as TLSSocket).getProtocol() ?? undefined;
        });
      }
    });

    request.on("error", (e: NodeJS.ErrnoException) => {
      const tcp = firstBytesOf(socketUsed); // https: the TCP connection under TLS
      const kind = classify(e, target.kind === "https", tcpUp || tcp?.connected === true, tlsUp);
      const ipLiteral = target.kind !== "unix" && isIP(target.host) !== 0;
      fail(kind, kind === "tls" ? tlsCause(e, ipLiteral, tcp?.first) : kind === "malformed" ? MALFORMED : kind === "internal" ? e.message : errnoCause(e));
    });

    request.on("response", (response: http.IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status !== 200 && status !== 500) return fail("http-status", httpStatusCause(status)); // redirects never followed
      const encoding = response.headers["content-encoding"];
      if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
        return fail("malformed", MALFORMED); // only identity is accepted
      }
      const declared = response.headers["content-length"];
      if (declared !== undefined && Number(declared) > maxReply) {
        return fail("too-large", TOO_LARGE);
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxReply) return fail("too-large", TOO_LARGE);
        chunks.push(chunk);
      });
      response.on("end", () => {
        const reply = new Uint8Array(received);
        let offset = 0;
        for (const chunk of chunks) {
          reply.set(chunk, offset);
          offset += chunk.length;
        }
        finish({ ok: true, status, body: reply });
      });
      response.on("error", (e: NodeJS.ErrnoException) => {
        const kind = classify(e, false, true, true);
        fail(kind === "internal" ? "closed" : kind, kind === "malformed" ? MALFORMED : errnoCause(e));
      });
      response.on("close", () => {
        if (!response.complete) fail("closed", CLOSED_EARLY);
      });
    });

    request.end(body);
  });
}
