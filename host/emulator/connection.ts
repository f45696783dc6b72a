// One accepted connection: reads requests, runs them in order, writes gSOAP-framed replies, keeps the
// connection alive between requests like kopano-server (idle timeout server_recv_timeout = 5 s, §2.4).
import type { Socket } from 'node:net';
import { RequestReader, HttpProtocolError, REASONS, type HttpReply, type HttpRequest, type ServerIdentity } from './http-framing.js';
import { decodeRequest, SoapFault } from './soap-decode.js';
import { faultEnvelope, responseEnvelope, type SoapVersion } from './envelope.js';
import { replacementReply, skipsOperation, transformReply, writeReply, type FaultMode } from './faults.js';
import { peerCredentials } from './peer-cred.js';
import type { Caller, KCmdService } from './kcmd-service.js';
import type { ProfileSpec } from './profiles.js';

export type ListenerKind = 'http' | 'https' | 'unix';

export interface RecordedRequest {
  listener: ListenerKind;
  head: string;
  body: Buffer;
  operation: string;
  peer?: { pid: number; uid: number } | { address: string };
}

export interface ConnectionContext {
  service: KCmdService;
  spec: ProfileSpec;
  identity: ServerIdentity;
  fault: () => FaultMode;
  record: (r: RecordedRequest) => void;
  log: (line: string) => void;
}

const IDLE_TIMEOUT_MS = 5000;

function contentTypeFor(v: SoapVersion): string {
  return v === '1.1' ? 'text/xml; charset=utf-8' : 'application/soap+xml; charset=utf-8';
}

/** The operation element as gSOAP would name it, for logs and the soap-fault mode. */
function operationTagOf(xml: string): string {
  const m = /<(?:[\w.-]+:)?Body\b[^>]*>\s*<([\w.:-]+)/.exec(xml);
  if (!m) return 'ns:logon';
  return `ns:${m[1].split(':').pop()}`;
}

export function serveConnection(socket: Socket, listener: ListenerKind, ctx: ConnectionContext): void {
  const reader = new RequestReader(() => socket.write('HTTP/1.1 100 Continue\r\n\r\n'));
  let busy = false;
  let hung = false;
  let closed = false;

  socket.on('data', (d: Buffer) => {
    if (hung) return; // hang mode: keep reading, never answer
    reader.push(d);
    void pump();
  });
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  socket.setTimeout(IDLE_TIMEOUT_MS, () => {
    if (!busy && !hung) socket.destroy();
  });

  // The caller identity sessions are bound to: peer IP over TCP, peer pid/uid over the unix socket (§10).
  const caller: Promise<Caller> =
    listener === 'unix'
      ? peerCredentials(socket).then((c) => ({ kind: 'unix' as const, pid: c.pid, uid: c.uid }))
      : Promise.resolve({ kind: 'tcp' as const, address: (socket.remoteAddress ?? '').replace(/^::ffff:/, '') });
  caller.catch(() => {});

  async function pump(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      for (;;) {
        if (closed || hung) return;
        let req: HttpRequest | null;
        try {
          req = reader.next();
        } catch (e) {
          if (e instanceof HttpProtocolError) ctx.log(`closing connection: ${e.message}`);
          socket.destroy();
          return;
        }
        if (!req) return;
        const keep = await serve(req);
        if (!keep) return;
      }
    } finally {
      busy = false;
    }
  }

  async function serve(req: HttpRequest): Promise<boolean> {
    let who: Caller;
    try {
      who = await caller;
    } catch (e) {
      ctx.log(`peer credentials unavailable: ${(e as Error).message}`);
      socket.destroy();
      return false;
    }
    const peer = who.kind === 'tcp' ? { address: who.address } : { pid: who.pid, uid: who.uid };
    const xml = req.body.toString('utf8');
    const recorded: RecordedRequest = { listener, head: req.head, body: req.body, operation: '', peer };
    ctx.record(recorded);
    const fault = ctx.fault();

    if (req.method !== null && req.method !== 'POST') {
      // gSOAP: GET (and other methods) -> 405 with a SOAP fault (§2.4)
      recorded.operation = req.method;
      const reply: HttpReply = {
        status: 405,
        reason: REASONS[405],
        contentType: contentTypeFor('1.1'),
        body: faultEnvelope('1.1', 'Client', `HTTP ${req.method} method not implemented`),
        chunked: false,
        keepAlive: false,
      };
      return writeReply(socket, reply, ctx.identity, { kind: 'none' });
    }
    recorded.operation = operationTagOf(xml).slice(3);
    if (fault.kind === 'hang') {
      hung = true;
      ctx.log(`fault hang: not answering ${recorded.operation}`);
      return false;
    }

    let reply: HttpReply | null = null;
    let soapVersion: SoapVersion = /http:\/\/www\.w3\.org\/2003\/05\/soap-envelope/.test(xml) ? '1.2' : '1.1';
    if (skipsOperation(fault)) {
      reply = replacementReply(fault, { spec: ctx.spec, soapVersion, operationTag: operationTagOf(xml) });
    } else {
      try {
        const decoded = await decodeRequest(xml);
        soapVersion = decoded.soapVersion;
        recorded.operation = decoded.operation;
        const result = ctx.service.handle(decoded, who);
        ctx.log(`${listener} ${JSON.stringify(peer)} ${result.summary}`);
        const acceptsOnlyDeflate = /deflate/i.test(req.acceptEncoding) && !/gzip/i.test(req.acceptEncoding);
        reply = {
          status: 200,
          reason: REASONS[200],
          contentType: contentTypeFor(soapVersion),
          body: responseEnvelope(soapVersion, result.inner),
          // HTTP/1.0 cannot be chunked: gSOAP stores the reply and sends a Content-Length instead
          chunked: (result.chunked || result.compressed) && req.httpVersion === '1.1',
          compression: result.compressed ? (acceptsOnlyDeflate ? 'deflate' : 'gzip') : undefined,
          keepAlive: req.keepAlive,
        };
      } catch (e) {
        if (!(e instanceof SoapFault)) throw e;
        ctx.log(`${listener} ${JSON.stringify(peer)} SOAP fault: ${e.faultstring}`);
        // SOAP 1.1 faults are HTTP 500; SOAP 1.2 sender faults 400 [INF]
        const status = e.soapVersion === '1.2' && e.faultcode === 'Client' ? 400 : 500;
        reply = {
          status,
          reason: REASONS[status],
          contentType: contentTypeFor(e.soapVersion),
          body: faultEnvelope(e.soapVersion, e.faultcode, e.faultstring),
          chunked: false,
          keepAlive: false,
        };
      }
      reply = transformReply(fault, reply);
    }
    if (!reply) return false;
    if (fault.kind !== 'none') ctx.log(`fault ${fault.kind} applied to ${recorded.operation}`);
    return writeReply(socket, reply, ctx.identity, fault);
  }
}
