// HTTP/1.x framing as gSOAP's server side does it (kopano-soap.md §2.4): requests with Content-Length or a chunked
// body, gzip/deflate request bodies, Expect: 100-continue, HTTP/1.0 -> Connection: close, and a bare SOAP envelope
// with no HTTP header at all (KCC's socket client). Replies: gSOAP header order, Content-Length or chunked framing.
import { gunzipSync, inflateSync, gzipSync, deflateSync } from 'node:zlib';

const MAX_HEAD = 64 * 1024;
const MAX_BODY = 16 * 1024 * 1024;

export interface HttpRequest {
  /** null for a bare envelope without HTTP header */
  method: string | null;
  httpVersion: '1.0' | '1.1';
  /** request line and headers as received (without the blank line) */
  head: string;
  headers: [string, string][];
  body: Buffer;
  keepAlive: boolean;
  acceptEncoding: string;
}

export class HttpProtocolError extends Error {}

function header(headers: [string, string][], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** Incremental request parser for one connection. */
export class RequestReader {
  private buffer: Buffer = Buffer.alloc(0);
  private pendingHead: { method: string; httpVersion: '1.0' | '1.1'; head: string; headers: [string, string][] } | null =
    null;
  private continueSent = false;

  constructor(private readonly onContinue: () => void) {}

  push(data: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, data]) : data;
  }

  /** The next complete request, or null when more bytes are needed. Throws HttpProtocolError on bad input. */
  next(): HttpRequest | null {
    if (!this.pendingHead) {
      const start = this.buffer.findIndex((b) => b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a);
      if (start < 0) {
        this.buffer = Buffer.alloc(0);
        return null;
      }
      if (this.buffer[start] === 0x3c /* '<' */) return this.nextBareEnvelope(start);
      const end = this.buffer.indexOf('\r\n\r\n', start);
      const lfEnd = end < 0 ? this.buffer.indexOf('\n\n', start) : -1;
      if (end < 0 && lfEnd < 0) {
        if (this.buffer.length > MAX_HEAD) throw new HttpProtocolError('header too large');
        return null;
      }
      const headEnd = end >= 0 ? end : lfEnd;
      const head = this.buffer.subarray(start, headEnd).toString('latin1');
      this.buffer = this.buffer.subarray(headEnd + (end >= 0 ? 4 : 2));
      const lines = head.split(/\r?\n/);
      const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]);
      if (!m) throw new HttpProtocolError('bad request line');
      const headers: [string, string][] = [];
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) throw new HttpProtocolError('bad header line');
        headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
      }
      this.pendingHead = { method: m[1], httpVersion: m[3] === '0' ? '1.0' : '1.1', head, headers };
      this.continueSent = false;
    }
    const ph = this.pendingHead;
    if (!this.continueSent && /100-continue/i.test(header(ph.headers, 'Expect') ?? '')) {
      this.continueSent = true;
      this.onContinue();
    }
    const body = this.takeBody(ph.headers, ph.method);
    if (!body) return null;
    this.pendingHead = null;
    const connection = (header(ph.headers, 'Connection') ?? '').toLowerCase();
    const keepAlive = ph.httpVersion === '1.1' ? !connection.includes('close') : connection.includes('keep-alive');
    return {
      method: ph.method,
      httpVersion: ph.httpVersion,
      head: ph.head,
      headers: ph.headers,
      body: decodeContentEncoding(body, header(ph.headers, 'Content-Encoding')),
      // gSOAP drops keep-alive for HTTP/1.0 (§9 test J)
      keepAlive: ph.httpVersion === '1.1' ? keepAlive : false,
      acceptEncoding: header(ph.headers, 'Accept-Encoding') ?? '',
    };
  }

  private takeBody(headers: [string, string][], method: string): Buffer | null {
    if (/chunked/i.test(header(headers, 'Transfer-Encoding') ?? '')) return this.takeChunked();
    const cl = header(headers, 'Content-Length');
    const length = cl === undefined ? (method === 'POST' ? -1 : 0) : Number(cl);
    if (length < 0 && cl !== undefined) throw new HttpProtocolError('bad Content-Length');
    if (length < 0) return this.takeUntilEnvelopeEnd(0); // POST without length: read the XML to its end (gSOAP)
    if (!Number.isSafeInteger(length) || length > MAX_BODY) throw new HttpProtocolError('bad Content-Length');
    if (this.buffer.length < length) return null;
    const body = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return body;
  }

  private takeChunked(): Buffer | null {
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const lineEnd = this.buffer.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = parseInt(this.buffer.subarray(pos, lineEnd).toString('latin1').split(';')[0].trim(), 16);
      if (!Number.isFinite(size) || size < 0 || size > MAX_BODY) throw new HttpProtocolError('bad chunk size');
      pos = lineEnd + 2;
      if (size === 0) {
        // trailers until an empty line
        for (;;) {
          const tEnd = this.buffer.indexOf('\r\n', pos);
          if (tEnd < 0) return null;
          const empty = tEnd === pos;
          pos = tEnd + 2;
          if (empty) break;
        }
        this.buffer = this.buffer.subarray(pos);
        return Buffer.concat(parts);
      }
      if (this.buffer.length < pos + size + 2) return null;
      parts.push(this.buffer.subarray(pos, pos + size));
      pos += size + 2;
    }
  }

  private nextBareEnvelope(start: number): HttpRequest | null {
    const body = this.takeUntilEnvelopeEnd(start);
    if (!body) return null;
    return { method: null, httpVersion: '1.1', head: '', headers: [], body, keepAlive: true, acceptEncoding: '' };
  }

  /** gSOAP reads a length-less body until the XML parser has seen the envelope's end tag. */
  private takeUntilEnvelopeEnd(start: number): Buffer | null {
    const text = this.buffer.toString('latin1');
    const re = /<\/(?:[A-Za-z_][\w.-]*:)?Envelope\s*>/g;
    re.lastIndex = start;
    const m = re.exec(text);
    if (!m) {
      if (this.buffer.length > MAX_BODY) throw new HttpProtocolError('body too large');
      return null;
    }
    const end = m.index + m[0].length;
    const body = this.buffer.subarray(start, end);
    this.buffer = this.buffer.subarray(end);
    return body;
  }
}

function decodeContentEncoding(body: Buffer, encoding: string | undefined): Buffer {
  const e = (encoding ?? '').toLowerCase();
  try {
    if (e === 'gzip' || e === 'x-gzip') return gunzipSync(body);
    if (e === 'deflate') return inflateSync(body);
  } catch {
    throw new HttpProtocolError('bad compressed body');
  }
  return body;
}

export interface HttpReply {
  status: number;
  reason: string;
  /** headers between Server/X-Frame-Options and Content-Type are not used by gSOAP; extra ones go after Server */
  extraHeaders?: [string, string][];
  contentType: string;
  body: Buffer;
  chunked: boolean;
  compression?: 'gzip' | 'deflate';
  keepAlive: boolean;
}

export interface ServerIdentity {
  serverHeader: string;
  xFrameOptions: boolean;
}

/** gSOAP writes a chunk per buffer flush; its SOAP_BUFLEN is 64 KiB [INF]. */
const CHUNK = 65536;

export function chunkedFraming(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += CHUNK) {
    const piece = body.subarray(i, i + CHUNK);
    parts.push(Buffer.from(piece.length.toString(16).toUpperCase() + '\r\n', 'latin1'), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Header bytes and framed body of a reply, header order as in the 11.0.2 captures. */
export function serializeReply(reply: HttpReply, id: ServerIdentity): { head: Buffer; body: Buffer } {
  let body = reply.body;
  if (reply.compression === 'gzip') body = gzipSync(body);
  if (reply.compression === 'deflate') body = deflateSync(body);
  const lines = [`HTTP/1.1 ${reply.status} ${reply.reason}`, `Server: ${id.serverHeader}`];
  if (id.xFrameOptions) lines.push('X-Frame-Options: SAMEORIGIN');
  for (const [n, v] of reply.extraHeaders ?? []) lines.push(`${n}: ${v}`);
  lines.push(`Content-Type: ${reply.contentType}`);
  if (reply.compression) lines.push(`Content-Encoding: ${reply.compression}`);
  lines.push(reply.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`);
  lines.push(`Connection: ${reply.keepAlive ? 'keep-alive' : 'close'}`);
  return {
    head: Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'),
    body: reply.chunked ? chunkedFraming(body) : body,
  };
}

export const REASONS: Record<number, string> = {
  200: 'OK',
  202: 'Accepted',
  301: 'Moved Permanently',
  302: 'Found',
  307: 'Temporary Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};
