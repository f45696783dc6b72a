// Makes the worker's asynchronous posts synchronous for the guest: the request goes to the worker over a
// MessagePort, the main thread sleeps in Atomics.wait until the worker bumps a shared counter, then takes the
// reply with receiveMessageOnPort. (The same technique as the synckit package; written out here because the
// worker's lifetime must be exactly one authentication call, keep-alive included, and deadlines are per call.)
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { ServerUrl } from "../server-url.js";
import type { PostRecord, PostRequest, PostResponse, TransportErrorName, WorkerData, WorkerMessage } from "./types.js";

export interface TransportOptions {
  servers: readonly ServerUrl[];
  timeoutMs: number;
  ca?: string[];
  userAgent: string;
  onPost?: (record: PostRecord) => void;
  /** called about every `waitingIntervalMs` while a post is outstanding */
  onWaiting?: (info: { server: number; url: string; elapsedMs: number; remainingMs: number }) => void;
  waitingIntervalMs?: number;
  /** a worker started ahead of need (TransportWorker.start); the transport owns it from here on */
  worker?: TransportWorker;
}

export type PostResult = { tag: "ok"; val: { status: number; body: Uint8Array } } | { tag: "err"; val: TransportErrorName };

/** Grace beyond the deadline before the main thread gives up on the worker itself. The worker enforces the
 * deadline on the connection; this only covers a worker that cannot answer at all (it failed to start, or is
 * stuck), so it is short: the answer still comes close to deadline + 10%. Either way the result is `timeout`. */
const WORKER_GRACE_MS = 250;
const workerFile = new URL("./worker.js", import.meta.url);

/**
 * The worker thread behind a SyncTransport. Its start-up (a fresh isolate loading node:http: tens of milliseconds)
 * is the largest part of a `pam-mapi check`, so the caller may start it before loading the guest, to overlap the
 * guest's loading and `configure`. It holds nothing until its transport sends the setup; close() it if unused.
 */
export class TransportWorker {
  private constructor(private worker: Worker | undefined, readonly port: MessagePort, readonly signal: Int32Array) {}

  static start(): TransportWorker {
    // A worker that cannot start would only show as a timeout (the main thread is asleep); fail clearly instead.
    if (!existsSync(fileURLToPath(workerFile))) throw new Error(`the transport worker ${fileURLToPath(workerFile)} is missing (run npm run build:host)`);
    const signal = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const workerData: WorkerData = { signal, port: port2 };
    const worker = new Worker(workerFile, { workerData, transferList: [port2], env: {}, stdout: false, stderr: false });
    // Never keep the process alive, never crash it: an error surfaces as a missing reply (timeout).
    worker.unref();
    worker.on("error", () => {});
    return new TransportWorker(worker, port1, new Int32Array(signal));
  }

  close(): void {
    this.port.close();
    void this.worker?.terminate();
    this.worker = undefined;
  }
}

export class SyncTransport {
  readonly records: PostRecord[] = [];
  private readonly deadlines = new Map<number, number>();
  private readonly created = performance.now();
  private worker?: TransportWorker;
  /** the caller's early worker until the first post takes it */
  private early?: TransportWorker;
  private nextId = 1;

  constructor(private readonly options: TransportOptions) {
    this.early = options.worker;
  }

  /** The guest's `post` import. Never throws: a throw would trap the guest. */
  post(index: number, body: Uint8Array): PostResult {
    const target = this.options.servers[index];
    if (!Number.isInteger(index) || target === undefined) {
      this.record({ server: index, url: "", startedMs: this.sinceCreated(), connectMs: null, reusedConnection: false,
        totalMs: 0, requestBytes: body.byteLength, error: "no-such-server", detail: `no server number ${index}` });
      body.fill(0);
      return { tag: "err", val: "no-such-server" };
    }
    let deadline = this.deadlines.get(index);
    if (deadline === undefined) {
      deadline = Date.now() + this.options.timeoutMs;
      this.deadlines.set(index, deadline);
    }
    const startedMs = this.sinceCreated();
    const started = performance.now();
    let response: PostResponse;
    try {
      response = this.exchange(index, target, body, deadline);
    } catch (e) {
      response = { id: 0, connectMs: null, reusedConnection: false,
        outcome: { ok: false, error: "internal", detail: (e as Error).message } };
    } finally {
      body.fill(0);
    }
    const { outcome } = response;
    this.record({
      server: index, url: target.url, startedMs, connectMs: response.connectMs,
      reusedConnection: response.reusedConnection, totalMs: performance.now() - started,
      requestBytes: body.byteLength, tlsProtocol: response.tlsProtocol,
      ...(outcome.ok ? { status: outcome.status, replyBytes: outcome.body.byteLength }
        : { error: outcome.error, detail: outcome.detail, status: statusFrom(outcome.detail) }),
    });
    return outcome.ok ? { tag: "ok", val: { status: outcome.status, body: outcome.body } } : { tag: "err", val: outcome.error };
  }

  /** Ends the call: the worker and every connection it holds. */
  close(): void {
    this.worker?.close();
    this.early?.close();
    this.worker = this.early = undefined;
  }

  private exchange(index: number, target: ServerUrl, body: Uint8Array, deadline: number): PostResponse {
    const { port, signal } = this.ensureWorker();
    const id = this.nextId++;
    // Our own copy goes to the worker (transferred, not cloned); the guest's buffer is wiped by the caller.
    const copy = new Uint8Array(body);
    const request: PostRequest = { id, index, target, body: copy, deadline };
    port.postMessage(request satisfies WorkerMessage, [copy.buffer as ArrayBuffer]);
    const interval = this.options.waitingIntervalMs ?? 1000;
    const started = performance.now();
    for (;;) {
      const current = Atomics.load(signal, 0);
      if (current === id) break;
      const remaining = deadline - Date.now();
      if (remaining + WORKER_GRACE_MS <= 0) {
        this.close(); // the worker is stuck; a fresh one serves any later post
        return { id, connectMs: null, reusedConnection: false,
          outcome: { ok: false, error: "timeout", detail: "the transport worker did not answer within the deadline" } };
      }
      const slice = Math.max(1, Math.min(interval, remaining + WORKER_GRACE_MS));
      if (Atomics.wait(signal, 0, current, slice) === "timed-out") {
        // What is left now, after the wait (the value from before it was one interval too high).
        this.options.onWaiting?.({ server: index, url: target.url, elapsedMs: performance.now() - started,
          remainingMs: Math.max(0, deadline - Date.now()) });
      }
    }
    // The worker posts the reply before it bumps the counter, so it is normally queued already.
    for (let tries = 0; tries < 1000; tries++) {
      const message = receiveMessageOnPort(port);
      if (message) return message.message as PostResponse;
      Atomics.wait(signal, 0, id, 1);
    }
    throw new Error("the transport worker signalled a reply that never arrived");
  }

  private ensureWorker(): TransportWorker {
    if (this.worker) return this.worker;
    const worker = this.early ?? TransportWorker.start();
    this.early = undefined;
    this.worker = worker;
    const setup: WorkerMessage = { setup: { ca: this.options.ca, userAgent: this.options.userAgent } };
    worker.port.postMessage(setup);
    return worker;
  }

  private record(entry: PostRecord): void {
    this.records.push(entry);
    try {
      this.options.onPost?.(entry);
    } catch {
      // diagnostics must never change the outcome
    }
  }

  private sinceCreated(): number {
    return performance.now() - this.created;
  }
}

function statusFrom(detail: string): number | undefined {
  const match = /^HTTP status (\d{3})/.exec(detail);
  return match ? Number(match[1]) : undefined;
}
