// The transport worker: runs the asynchronous posts for one authentication call while the main thread
// waits for each with Atomics.wait (sync-transport.ts). One keep-alive agent per server; all of them die with
// the worker at the end of the call.
import { workerData, type MessagePort } from "node:worker_threads";
import type http from "node:http";
import { httpPost, newAgent } from "./http-post.js";
import type { PostRequest, PostResponse, WorkerSetup } from "./types.js";

const setup = workerData as WorkerSetup & { port: MessagePort };
const signal = new Int32Array(setup.signal);
const agents = new Map<number, http.Agent>();

setup.port.on("message", async (request: PostRequest) => {
  let agent = agents.get(request.index);
  if (!agent) {
    agent = newAgent(request.target);
    agents.set(request.index, agent);
  }
  let response: PostResponse;
  try {
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
  setup.port.postMessage(response, transfer);
  Atomics.store(signal, 0, request.id);
  Atomics.notify(signal, 0);
});
