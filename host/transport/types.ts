// Shapes shared by the main thread and the transport worker.
import type { MessagePort } from "node:worker_threads";
import type { ServerUrl } from "../server-url.js";
import type { TransportErrorName } from "../guest.js";

export type { TransportErrorName };

/** The reply cap: larger bodies are `too-large` (docs/abi.md). */
export const MAX_REPLY_BYTES = 1024 * 1024;

/** What happened to one post, for `pam-mapi check` and for logs. Never holds request or reply bodies. */
export interface PostRecord {
  server: number;
  url: string;
  /** ms since the transport was created */
  startedMs: number;
  /** ms until the connection (TLS included) was up; 0 when a kept-alive connection was reused; null if never */
  connectMs: number | null;
  reusedConnection: boolean;
  totalMs: number;
  requestBytes: number;
  status?: number;
  replyBytes?: number;
  error?: TransportErrorName;
  /** the underlying error, e.g. "certificate has expired" or "connect ECONNREFUSED 127.0.0.1:236" */
  detail?: string;
  tlsProtocol?: string;
}

export type PostOutcome =
  | { ok: true; status: number; body: Uint8Array }
  | { ok: false; error: TransportErrorName; detail: string };

export interface PostRequest {
  id: number;
  index: number;
  target: ServerUrl;
  body: Uint8Array;
  /** absolute, Date.now() clock */
  deadline: number;
}

export interface PostResponse {
  id: number;
  outcome: PostOutcome;
  connectMs: number | null;
  reusedConnection: boolean;
  tlsProtocol?: string;
}

/** The worker's workerData: the port it serves and the shared counter it bumps. */
export interface WorkerData {
  /** Int32Array[0]: id of the last finished request */
  signal: SharedArrayBuffer;
  port: MessagePort;
}

/** The first message on the port, before any PostRequest: what the posts of this call use. */
export interface WorkerSetup {
  /** PEM certificates; undefined = Node's default store */
  ca?: string[];
  userAgent: string;
}

export type WorkerMessage = { setup: WorkerSetup } | PostRequest;
