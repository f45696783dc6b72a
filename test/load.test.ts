// Load inside the real daemons: saslauthd -a pam -n 4 with mixed good / wrong / unavailable / feature-checked
// authentications, and Apache (worker MPM) with 16 concurrent Basic-auth clients. Figures: wrong verdicts (0),
// crashes (0: same daemon processes before and after, no "exit signal" in Apache's log), resident memory and open
// descriptors of every daemon process after a warm-up and at the end (flat), sessions left open on the emulator (0).
// npm test runs a small load (LOAD_SASL=2000, LOAD_APACHE=1000); `npm run load` the full one (50 000 / 10 000) and
// writes the figures to build/load-figures.json.
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadUserDb, startEmulator, type Emulator } from "../host/emulator/index.js";
import { repoRoot } from "./helpers/guest.js";
import {
  childProcesses, httpStatus, processGroupMembers, sharedTempDir, startApache, startSaslauthd, stopAll,
  writePamServiceDir, type Apache, type Saslauthd,
} from "./helpers/daemons.js";
import { MODULE } from "./helpers/pam.js";
import { freePort as deadPort } from "./helpers/ports.js"; // free a moment ago: nothing listens there

const SASL_RUNS = Number(process.env.LOAD_SASL ?? 2000);
const APACHE_RUNS = Number(process.env.LOAD_APACHE ?? 1000);
const SASL_CONCURRENCY = 8;
const APACHE_CLIENTS = 16;
const WARMUP = 100;
const users = loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json"));
const ALICE = { user: "alice", password: "Secr3t!" };

let dir: string;
let emulator: Emulator;
let faulty: Emulator;
let saslauthd: Saslauthd;
let apache: Apache;
const figures: Record<string, unknown> = {};

interface ProcFigures { pid: number; rssKiB: number; fds: number }
function procFigures(pid: number): ProcFigures {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { pid, rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0), fds: readdirSync(`/proc/${pid}/fd`).length };
}
const snapshot = (pids: number[]) => pids.map(procFigures);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A snapshot once the processes are idle: connections of the last requests closed (descriptors stop moving). */
async function settledSnapshot(pids: number[], like?: ProcFigures[]): Promise<ProcFigures[]> {
  let last = snapshot(pids);
  for (let k = 0; k < 20; k++) {
    await sleep(250);
    const now = snapshot(pids);
    const same = (a: ProcFigures[], b: ProcFigures[]) => a.every((x, i) => x.fds === b[i].fds);
    if (same(now, last) && (!like || same(now, like))) return now;
    last = now;
  }
  return last;
}

/** Runs `count` jobs with at most `width` in flight. */
async function pool(count: number, width: number, job: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await job(next++);
  }));
}


/** Growth between two snapshots of the same processes: the largest RSS growth and any change of descriptors. */
/** `runs` calls of `one` (true = the verdict was right), `width` at a time, between settled snapshots of the
 * daemon's processes; `processes()` lists them now, so a crashed process shows as missing afterwards. */
async function measure(runs: number, width: number, processes: () => number[], one: (i: number) => Promise<boolean>) {
  const pids = processes();
  const before = await settledSnapshot(pids);
  let wrong = 0;
  const t0 = performance.now();
  await pool(runs, width, async (i) => {
    if (!(await one(i))) wrong++;
  });
  const seconds = (performance.now() - t0) / 1000;
  const afterPids = processes();
  const after = await settledSnapshot(pids.filter((p) => afterPids.includes(p)), before);
  return { pids, afterPids, before, after, wrong, seconds };
}

function growth(before: ProcFigures[], after: ProcFigures[]) {
  let rss = 0, fds = 0;
  for (const b of before) {
    const a = after.find((x) => x.pid === b.pid);
    if (!a) continue;
    rss = Math.max(rss, a.rssKiB - b.rssKiB);
    fds = Math.max(fds, Math.abs(a.fds - b.fds));
  }
  return { maxRssGrowthKiB: rss, maxFdChange: fds };
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the load tests start system daemons and must run as root");
  dir = sharedTempDir("pam-mapi-load-");
  emulator = await startEmulator({ users, listen: [{ http: {} }] });
  faulty = await startEmulator({ users, listen: [{ http: {} }], fault: { kind: "soap-fault" } });
  // our own (empty) config file: the default /etc/security/pam_mapi.conf may be someone else's, and unreadable
  // by www-data, which the module rightly treats as a configuration error
  const config = path.join(dir, "pam_mapi.conf");
  writeFileSync(config, "", { mode: 0o644 });
  const line = (url: string, extra = "") =>
    `auth required ${MODULE} config=${config} socket=${url} timeout=5 ${extra}\naccount required ${MODULE} config=${config}`;
  const serviceDir = writePamServiceDir(path.join(dir, "pam.d"), {
    "load-plain": line(emulator.urls[0]),
    "load-feature": line(emulator.urls[0], "service=webapp"),
    "load-refused": line(`http://127.0.0.1:${await deadPort()}/`),
    "load-fault": line(faulty.urls[0]),
  });
  saslauthd = await startSaslauthd({ serviceDir, processes: 4 });
  apache = await startApache({ serviceDir, pamService: "load-feature", mpm: "worker" });
}, 120_000);

afterAll(async () => {
  writeFileSync(path.join(repoRoot, "build/load-figures.json"), JSON.stringify(figures, null, 2) + "\n");
  console.log(`load figures: ${JSON.stringify(figures)}`);
  await stopAll(() => apache?.stop(), () => saslauthd?.stop(), () => emulator?.close(), () => faulty?.close(),
    async () => dir && rmSync(dir, { recursive: true, force: true }));
});

type Kind = "good" | "good-feature" | "wrong" | "refused" | "fault";
const KINDS: Kind[] = ["good", "good-feature", "wrong", "refused", "fault"];

describe("saslauthd -a pam -n 4", () => {
  it(`${SASL_RUNS} mixed authentications: no wrong verdict, no crash, flat memory and descriptors, no open session`, async () => {
    const one = async (i: number) => {
      const kind = KINDS[i % KINDS.length];
      const serviceName = { good: "load-plain", "good-feature": "load-feature", wrong: "load-plain", refused: "load-refused", fault: "load-fault" }[kind];
      const password = kind === "wrong" ? "not-the-password" : ALICE.password;
      const reply = await saslauthd.auth(ALICE.user, password, serviceName);
      const expectOk = kind === "good" || kind === "good-feature";
      return (reply === "OK") === expectOk;
    };
    for (let i = 0; i < WARMUP; i++) await one(i);
    const processes = () => [saslauthd.pid(), ...childProcesses(saslauthd.pid())];
    expect(processes().length).toBe(4);
    const { pids, afterPids, before, after, wrong, seconds } = await measure(SASL_RUNS, SASL_CONCURRENCY, processes, one);
    figures.saslauthd = {
      authentications: SASL_RUNS, seconds: Number(seconds.toFixed(1)), perSecond: Math.round(SASL_RUNS / seconds),
      wrongVerdicts: wrong, crashes: pids.filter((p) => !afterPids.includes(p)).length,
      before, after, ...growth(before, after), openSessions: emulator.openSessions(),
    };
    expect(wrong).toBe(0);
    expect(afterPids.sort()).toEqual(pids.slice().sort());
    expect(emulator.openSessions()).toBe(0);
    const g = growth(before, after);
    expect(g.maxFdChange).toBe(0);
    expect(g.maxRssGrowthKiB).toBeLessThan(4096);
  }, 3_600_000);
});

describe("Apache, worker MPM", () => {
  it(`${APACHE_RUNS} Basic-auth requests from ${APACHE_CLIENTS} clients: no wrong verdict, no crash, flat, no open session`, async () => {
    const url = `${apache.url}/private/secret.txt`;
    const statuses: Record<string, number> = {};
    const one = async (i: number) => {
      const good = i % 2 === 0;
      const status = await httpStatus(url, { user: ALICE.user, password: good ? ALICE.password : "not-the-password" });
      const key = `${good ? "good" : "wrong"}:${status}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
      return status === (good ? 200 : 401);
    };
    const first = await httpStatus(url, ALICE);
    expect(first, apache.errorLog().split("\n").slice(-30).join("\n")).toBe(200);
    await pool(WARMUP, APACHE_CLIENTS, async (i) => void (await one(i)));
    const { pids, afterPids, before, after, wrong, seconds } =
      await measure(APACHE_RUNS, APACHE_CLIENTS, () => processGroupMembers(apache.pid()), one);
    if (wrong > 0) {
      const log = apache.errorLog().split("\n");
      console.log(`apache wrong verdicts: ${JSON.stringify(statuses)}\n` + log.filter((l) => /SYSLOG\((3|4|5)\)|error|AH0/i.test(l)).slice(-40).join("\n"));
    }
    const crashLines = apache.errorLog().split("\n").filter((l) => /exit signal|segfault|AH00052/i.test(l));
    figures.apache = {
      requests: APACHE_RUNS, clients: APACHE_CLIENTS, seconds: Number(seconds.toFixed(1)),
      perSecond: Math.round(APACHE_RUNS / seconds), wrongVerdicts: wrong, crashes: crashLines.length,
      processesBefore: pids.length, processesAfter: afterPids.length, before, after, ...growth(before, after),
      openSessions: emulator.openSessions(),
    };
    expect(wrong).toBe(0);
    expect(crashLines).toEqual([]);
    expect(afterPids.sort()).toEqual(pids.slice().sort());
    expect(emulator.openSessions()).toBe(0);
    const g = growth(before, after);
    expect(g.maxFdChange).toBe(0);
    expect(g.maxRssGrowthKiB).toBeLessThan(4096);
  }, 3_600_000);
});
