// Switchable misbehaviour for hardening tests of the client. Each mode either replaces the reply, changes its
// framing, or changes how its bytes are written.
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { serializeReply, REASONS, type HttpReply, type ServerIdentity } from './http-framing.js';
import { faultEnvelope, logonResponse, responseEnvelope, type SoapVersion } from './envelope.js';
import { CAP, type ProfileSpec } from './profiles.js';
import { randomSessionId } from './sessions.js';

export type FaultMode =
  | { kind: 'none' }
  | { kind: 'hang' }
  | { kind: 'slow-headers' }
  | { kind: 'slow-body' }
  | { kind: 'garbage' }
  | { kind: 'truncated' }
  | { kind: 'reset' }
  | { kind: 'soap-fault' }
  | { kind: 'er0-in-500' }
  | { kind: 'chunked' }
  | { kind: 'oversized'; bytes: number }
  | { kind: 'status'; status: number }
  | { kind: 'gzip' }
  | { kind: 'content-type'; value: string };

/** Modes whose reply does not depend on the operation, so the operation is not run at all. */
export function skipsOperation(f: FaultMode): boolean {
  return f.kind === 'hang' || f.kind === 'garbage' || f.kind === 'soap-fault' || f.kind === 'er0-in-500';
}

export interface FaultContext {
  spec: ProfileSpec;
  soapVersion: SoapVersion;
  /** the operation tag as gSOAP would print it, e.g. "ns:logon" */
  operationTag: string;
}

/** The whole reply for the modes that replace it; null for the others. */
export function replacementReply(f: FaultMode, ctx: FaultContext): HttpReply | null {
  switch (f.kind) {
    case 'garbage':
      return {
        status: 200,
        reason: 'OK',
        contentType: 'text/xml; charset=utf-8',
        body: Buffer.from('garbage: this is not XML at all \x01\x02\r\n', 'latin1'),
        chunked: false,
        keepAlive: true,
      };
    case 'soap-fault':
      // exactly what test E (wrong namespace) gets: HTTP 500, Client fault, Connection: close
      return {
        status: 500,
        reason: REASONS[500],
        contentType: 'text/xml; charset=utf-8',
        body: faultEnvelope(
          ctx.soapVersion,
          'Client',
          `Method '${ctx.operationTag}' not implemented: method name or namespace not recognized`,
        ),
        chunked: false,
        keepAlive: false,
      };
    case 'er0-in-500':
      // a success-looking logonResponse (unregistered session id) under an HTTP 500 status
      return {
        status: 500,
        reason: REASONS[500],
        contentType: 'text/xml; charset=utf-8',
        body: responseEnvelope(
          ctx.soapVersion,
          logonResponse(
            {
              er: 0,
              sessionId: randomSessionId(true),
              version: ctx.spec.version,
              capabilities: ctx.spec.latestCapabilities | CAP.UNICODE,
              serverGuid: randomBytes(16),
            },
            ctx.spec,
          ),
        ),
        chunked: false,
        keepAlive: false,
      };
    default:
      return null;
  }
}

/** Framing and header changes applied to a normal reply. */
export function transformReply(f: FaultMode, reply: HttpReply): HttpReply {
  switch (f.kind) {
    case 'chunked':
      return { ...reply, chunked: true };
    case 'gzip':
      return { ...reply, compression: 'gzip' };
    case 'content-type':
      return { ...reply, contentType: f.value };
    case 'status': {
      const extra: [string, string][] =
        f.status >= 300 && f.status < 400 ? [['Location', 'http://127.0.0.1:9/redirected']] : [];
      return { ...reply, status: f.status, reason: REASONS[f.status] ?? 'Unknown', extraHeaders: extra };
    }
    case 'oversized': {
      // exactly f.bytes of body: the envelope padded with trailing XML whitespace, or cut short
      const body =
        f.bytes >= reply.body.length
          ? Buffer.concat([reply.body, Buffer.alloc(f.bytes - reply.body.length, 0x20)])
          : reply.body.subarray(0, f.bytes);
      return { ...reply, body, chunked: false, compression: undefined };
    }
    default:
      return reply;
  }
}

const SLOW_BYTE_INTERVAL_MS = 1000;

function dribble(socket: Socket, bytes: Buffer, intervalMs: number): Promise<void> {
  return new Promise((resolve) => {
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.off('close', finish);
      resolve();
    };
    socket.on('close', finish);
    const step = () => {
      if (socket.destroyed || i >= bytes.length) return finish();
      socket.write(bytes.subarray(i, i + 1));
      i++;
      timer = setTimeout(step, intervalMs);
    };
    step();
  });
}

/**
 * Write a reply, honouring the write-level modes. Resolves to true when the connection may serve another request.
 */
export async function writeReply(
  socket: Socket,
  reply: HttpReply,
  identity: ServerIdentity,
  f: FaultMode,
): Promise<boolean> {
  const { head, body } = serializeReply(reply, identity);
  switch (f.kind) {
    case 'slow-headers':
      await dribble(socket, head, SLOW_BYTE_INTERVAL_MS);
      if (!socket.destroyed) socket.write(body);
      break;
    case 'slow-body':
      socket.write(head);
      await dribble(socket, body, SLOW_BYTE_INTERVAL_MS);
      break;
    case 'truncated': {
      // announce more than is sent, send half, then close cleanly
      const announced = serializeReply({ ...reply, chunked: false, compression: undefined }, identity);
      const fake = Buffer.from(
        announced.head.toString('latin1').replace(/Content-Length: \d+/, `Content-Length: ${announced.body.length + 100}`),
        'latin1',
      );
      socket.end(Buffer.concat([fake, announced.body.subarray(0, Math.floor(announced.body.length / 2))]));
      return false;
    }
    case 'reset':
      socket.write(Buffer.concat([head, body.subarray(0, Math.floor(body.length / 2))]), () => {
        if (typeof socket.resetAndDestroy === 'function' && !(socket as { encrypted?: boolean }).encrypted) {
          socket.resetAndDestroy();
        } else {
          socket.destroy();
        }
      });
      return false;
    default:
      socket.write(Buffer.concat([head, body]));
  }
  if (!reply.keepAlive) {
    socket.end();
    return false;
  }
  return !socket.destroyed;
}
