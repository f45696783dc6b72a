#!/usr/bin/env node
// npm run fuzz -- [--runs N] [--seed S] [--jobs J] [--campaign all|reply|http] [--http-seconds T]
// The reply fuzzer (test/fuzz/reply-fuzz.mjs) over build/jco: N runs split over J worker threads, each with its
// own seed (S, S+1, …). Prints progress and the figures; exits 1 with the shrunk counterexample on a finding.
// Needs `npm run build:guest` first. Then the HTTP client's differential campaign (scripts/http-fuzz.mjs,
// test/fuzz/http-fuzz.c) for T seconds (default 600), libFuzzer when clang is installed.
import os from "node:os";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { parseArgs } from "node:util";

if (!isMainThread) {
  const { runReplyFuzz } = await import("../test/fuzz/reply-fuzz.mjs");
  try {
    const stats = await runReplyFuzz({
      runs: workerData.runs, seed: workerData.seed, every: 5000,
      onProgress: (done, s) => parentPort.postMessage({ progress: done, stats: s }),
    });
    parentPort.postMessage({ done: true, stats });
  } catch (e) {
    parentPort.postMessage({ failure: String(e?.message ?? e) });
  }
} else {
  const { divergenceOverBounds } = await import("../test/fuzz/divergence.mjs");
  const { values } = parseArgs({
    options: { runs: { type: "string", default: "100000" }, seed: { type: "string" }, jobs: { type: "string" },
      campaign: { type: "string", default: "all" }, "http-seconds": { type: "string", default: "600" } },
  });
  let httpFailed = false;
  if (values.campaign !== "reply") {
    const { runHttpCampaign } = await import("./http-fuzz.mjs");
    const httpSeed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2147483647;
    console.log(`http fuzzer: ${values["http-seconds"]} s, seed ${httpSeed}`);
    const h = await runHttpCampaign({ seconds: Number(values["http-seconds"]), seed: httpSeed });
    httpFailed = h.findings > 0;
    console.log(`http fuzzer (${h.engine}): ${h.execs} executions (3 http_post runs each) in ${h.seconds} s, seed ${h.seed}` +
      (h.cov !== undefined ? `; coverage ${h.cov} edges, ${h.ft} features, corpus ${h.corpus}` : "") + `; findings ${h.findings ? "YES" : 0}`);
    if (values.campaign === "http") process.exit(httpFailed ? 1 : 0);
  }
  const runs = Number(values.runs);
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() >>> 0;
  const jobs = Math.max(1, Math.min(Number(values.jobs ?? os.availableParallelism()), runs));
  const t0 = Date.now();
  console.log(`reply fuzzer: ${runs} runs, seed ${seed}, ${jobs} worker(s)`);
  const progress = new Array(jobs).fill(0);
  const finals = [];
  let failed = false;
  await Promise.all(Array.from({ length: jobs }, (_, k) => new Promise((resolve) => {
    const share = Math.floor(runs / jobs) + (k < runs % jobs ? 1 : 0);
    const w = new Worker(new URL(import.meta.url), { workerData: { runs: share, seed: seed + k * 1000 } });
    w.on("message", (m) => {
      if (m.progress !== undefined) {
        progress[k] = m.progress;
        const done = progress.reduce((a, b) => a + b, 0);
        const s = (Date.now() - t0) / 1000;
        console.log(`  ${done}/${runs} runs, ${s.toFixed(0)} s, ${(done / s).toFixed(0)} runs/s`);
      } else if (m.done) {
        finals.push(m.stats);
      } else if (m.failure) {
        failed = true;
        console.error(`FINDING (worker ${k}, seed ${seed + k * 1000}):\n${m.failure}`);
      }
    });
    w.on("error", (e) => {
      failed = true;
      console.error(`worker ${k} crashed: ${e?.stack ?? e}`);
      resolve();
    });
    w.on("exit", () => resolve());
  })));
  const total = { runs: 0, verdicts: {}, guestStricter: 0, divergence: {}, traps: 0 };
  for (const s of finals) {
    total.runs += s.runs;
    total.guestStricter += s.guestStricter;
    total.traps += s.traps;
    for (const [k, v] of Object.entries(s.verdicts)) total.verdicts[k] = (total.verdicts[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.divergence)) total.divergence[k] = (total.divergence[k] ?? 0) + v;
  }
  const secs = (Date.now() - t0) / 1000;
  const over = divergenceOverBounds(total.divergence, total.runs);
  for (const o of over) console.error(`FINDING: the guest refused what the reference read too often: ${o} (test/fuzz/divergence.mjs)`);
  console.log(`reply fuzzer: seed ${seed}: ${total.runs} runs in ${secs.toFixed(1)} s; verdicts ${JSON.stringify(total.verdicts)}; ` +
    `guest stricter than the reference ${total.guestStricter} ${JSON.stringify(total.divergence)}; traps ${total.traps}; ` +
    `findings ${failed || over.length ? "YES" : 0}`);
  process.exit(failed || over.length || httpFailed ? 1 : 0);
}
