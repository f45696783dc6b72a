// The transport worker: runs the asynchronous posts for one authentication call while the main thread
// waits for each with Atomics.wait (sync-transport.ts). One keep-alive agent per server; all of them die with
// the worker at the end of the call.
import { workerData } from "node:worker_threads";
import type http from "node:http";
import { httpPost, newAgent } from "./http-post.js";
import type { PostResponse, WorkerData, WorkerMessage, WorkerSetup } from "./types.js";

const { port, signal: shared } = workerData as WorkerData;
const signal = new Int32Array(shared);
const agents = new Map<number, http.Agent>();
// Sent first by the transport (the worker may start before the trust anchors are known).
let setup: WorkerSetup | undefined;

port.on("message", async (message: WorkerMessage) => {
  if ("setup" in message) {
    setup = message.setup;
    return;
  }
  const request = message;
  let agent = agents.get(request.index);
  if (!agent) {
    agent = newAgent(request.target);
    agents.set(request.index, agent);
  }
  let response: PostResponse;
  try {
    if (!setup) throw new Error("the transport worker got a request before its setup");
    const result = await httpPost(request.target, request.body, {
      deadline: request.deadline, agent, userAgent: setup.userAgent, ca: setup.ca,
    });
    response = { id: request.id, ...result };
  } catch (e) {
    response = {
      id: request.id, connectMs: null, reusedConnection: false,
      outcome: { ok: false, error: "internal", detail: (e as Error).message },
    };
  }
  // The request body holds the password: wipe this thread's copy as soon as it is sent.
  request.body.fill(0);
  const transfer = response.outcome.ok ? [response.outcome.body.buffer as ArrayBuffer] : [];
  port.postMessage(response, transfer);
  Atomics.store(signal, 0, request.id);
  Atomics.notify(signal, 0);
});
