// The reply fuzzer: fast-check drives the jco-transpiled guest's `authenticate` with a scripted `post` whose
// replies are mutated captures. For every run it checks, against the independent reader in reference.mjs:
//   - a success verdict only when the reply really says er 0 for this logon (and, with service=, that getUser
//     really leaves the feature enabled); PAM_AUTH_ERR only for a real LOGON_FAILED; PERM_DENIED only for a
//     really disabled feature;
//   - no trap at all (replies are at most 1 MiB, like the hosts deliver; the guest's limits keep the tree small);
//   - the requests that follow a reply are exactly what the reference says they must be (getUser/logoff carry
//     the session id the reply really holds, failover goes to server 2, nothing else is sent).
// The guest may be stricter than the reference (call a reply unreadable that xmldom reads); that is counted.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { loadSeeds, replyArbitrary } from "./mutations.mjs";
import { divergenceKind } from "./divergence.mjs";
import {
  ER_LOGON_FAILED, expectedGetUser, expectedLogoff, knowsNoRegisterSession, referenceGetUser, referenceLogon,
} from "./reference.mjs";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const wireDir = path.resolve(repoRoot, "../shared/fixtures/wire");
const jcoDir = path.join(repoRoot, "build/jco");

let instantiate;
const modules = new Map();
const core = (name) => {
  let m = modules.get(name);
  if (!m) modules.set(name, (m = new WebAssembly.Module(readFileSync(path.join(jcoDir, name)))));
  return m;
};

/** A fresh guest instance per call, as each PAM call gets one. */
export async function guestFactory() {
  if (!instantiate) instantiate = (await import(path.join(jcoDir, "pam_mapi.js"))).instantiate;
  return (post, log = () => {}) => instantiate(core, { post: { default: post }, log: { default: log } });
}

const enc = (s) => new TextEncoder().encode(s);
const seedBody = (seeds, name) => seeds.find((s) => s.name === name).body;

/** Scenarios: which reply of the conversation with server 1 is the fuzzed one. */
const SCENARIOS = ["logon", "logon-feature", "getuser", "logoff"];

/** The conversation the reference expects, treating `strictAt` (a slot index) as unreadable if given. */
function expectation(sc, feature, replies, strictAt) {
  const readable = (slot, ref) => (slot === strictAt ? { readable: false } : ref);
  const sent = ["logon@0"];
  const unavailable = () => ({ code: "authinfo-unavail", user: "alice", sent: [...sent, "logon@1"] });
  const logon = readable(0, replies[0].status === 200 ? referenceLogon(replies[0].body) : { readable: false });
  if (!logon.readable) return unavailable();
  if (logon.er === ER_LOGON_FAILED) return { code: "auth-err", user: "alice", sent };
  if (logon.er !== 0) return unavailable();
  const sid = logon.sessionId.toString();
  if (sc === "logon") {
    if (!knowsNoRegisterSession(logon.version) && logon.sessionId !== 0n) sent.push(`logoff@0:${sid}`);
    return { code: "success", user: "alice", sent };
  }
  if (logon.sessionId === 0n) {
    sent.push(`logoff@0:${sid}`);
    return unavailable();
  }
  sent.push(`getUser@0:${sid}`, `logoff@0:${sid}`);
  const user = readable(1, replies[1].status === 200 ? referenceGetUser(replies[1].body) : { readable: false });
  if (!user.readable || user.er !== 0) return unavailable();
  const canonical = user.username.length > 0 ? user.username : "alice";
  const denied = user.disabled !== null && user.disabled.includes(feature);
  return { code: denied ? "perm-denied" : "success", user: canonical, sent };
}

/** What the guest sent, in the notation of `expectation`; throws on a body the reference does not expect. */
function describeRequest(server, body) {
  const text = Buffer.from(body).toString("utf8");
  const op = /<ns:(\w+)>/.exec(text)?.[1];
  if (op === "logon") return `logon@${server}`;
  const sid = /<ulSessionId>(\d+)<\/ulSessionId>/.exec(text)?.[1];
  const expected = op === "logoff" ? expectedLogoff(sid) : op === "getUser" ? expectedGetUser(sid) : null;
  if (expected === null || text !== expected) return `unexpected@${server}:${text.slice(0, 200)}`;
  return `${op}@${server}:${sid}`;
}

/**
 * Runs `runs` cases from `seed`; returns the figures. `onProgress(done)` is called every `every` runs.
 * Throws (with fast-check's shrunk counterexample) on the first broken invariant.
 */
export async function runReplyFuzz({ runs, seed = Date.now() >>> 0, every = 0, onProgress = () => {} }) {
  const newGuest = await guestFactory();
  const seeds = loadSeeds(wireDir);
  if (seeds.length < 20) throw new Error(`only ${seeds.length} seed replies found in ${wireDir}`);
  const fixed = [
    { status: 200, body: seedBody(seeds, "tcp-a-logon-ok-alice.resp.raw") },
    { status: 200, body: seedBody(seeds, "logon-getuser-logoff.http.txt#2") },
    { status: 200, body: seedBody(seeds, "tcp-d-logoff.resp.raw") },
  ];
  const stats = { runs: 0, seeds: seeds.length, verdicts: {}, guestStricter: 0, stricterReasons: {}, divergence: {}, traps: 0 };
  const reply = fc.record({
    status: fc.oneof({ weight: 9, arbitrary: fc.constant(200) }, { weight: 1, arbitrary: fc.constant(500) }),
    fuzzed: replyArbitrary(seeds),
  });
  const property = fc.property(fc.nat({ max: SCENARIOS.length - 1 }), reply, fc.constantFrom("webapp", "imap"), (scIndex, r, feature) => {
    const sc = SCENARIOS[scIndex];
    const slot = { logon: 0, "logon-feature": 0, getuser: 1, logoff: 2 }[sc];
    const replies = fixed.slice();
    replies[slot] = { status: r.status, body: r.fuzzed.body };
    const sent = [];
    const logs = [];
    let step = 0;
    const guest = newGuest((server, body) => {
      sent.push(describeRequest(server, body));
      if (server !== 0) return { tag: "err", val: "refused" };
      const next = replies[step++];
      return next ? { status: next.status, body: new Uint8Array(next.body) } : { tag: "err", val: "closed" };
    }, (_level, message) => logs.push(message));
    const args = ["socket=http://127.0.0.1:1/,http://127.0.0.1:2/", ...(sc === "logon" ? [] : [`service=${feature}`])];
    let verdict;
    try {
      verdict = guest.authenticate("smtp", "alice", enc("Secr3t!"), args, new Uint8Array(), "192.0.2.7");
    } catch (e) {
      stats.traps++;
      throw new Error(`guest trapped: ${e?.message ?? e}`);
    }
    stats.runs++;
    stats.verdicts[verdict.code] = (stats.verdicts[verdict.code] ?? 0) + 1;
    const outcome = { code: verdict.code, user: verdict.user, sent };
    const truth = expectation(sc, feature, replies, -1);
    const same = (e) => e.code === outcome.code && e.user === outcome.user && JSON.stringify(e.sent) === JSON.stringify(sent);
    if (same(truth)) return true;
    if (slot < 2 && same(expectation(sc, feature, replies, slot))) {
      stats.guestStricter++;
      // why the guest refused what xmldom read: the first few, for the report
      const first = logs.find((l) => l.startsWith("server 1 ")) ?? verdict.reason;
      const why = first.replace(/^server 1 \([^)]*\): /, "").replace(/\d+/g, "N").slice(0, 120);
      stats.stricterReasons[why] = (stats.stricterReasons[why] ?? 0) + 1;
      const kind = divergenceKind(first);
      if (kind === null) throw new Error(`scenario ${sc}: the guest refused what the reference read, for a reason not in test/fuzz/divergence.mjs: ${why}`);
      stats.divergence[kind] = (stats.divergence[kind] ?? 0) + 1;
      return true;
    }
    throw new Error(`scenario ${sc}: guest ${JSON.stringify(outcome)}, reference ${JSON.stringify(truth)}`);
  });
  const chunk = every > 0 ? every : runs;
  for (let done = 0, k = 0; done < runs; done += chunk, k++) {
    const n = Math.min(chunk, runs - done);
    const details = fc.check(property, { numRuns: n, seed: (seed + k) | 0 });
    if (details.failed) {
      const [scIndex, r, feature] = details.counterexample;
      throw new Error(`${details.errorInstance?.message ?? details.error}\nseed ${details.seed} path ${details.counterexamplePath}\n` +
        `scenario ${SCENARIOS[scIndex]} (service=${feature}), status ${r.status}, ${r.fuzzed.kind}` +
        (r.fuzzed.kind === "mutated" ? ` of ${r.fuzzed.seedName} by ${JSON.stringify(r.fuzzed.plan)}` : "") +
        `\nbody (${r.fuzzed.body.length} bytes): ${JSON.stringify(r.fuzzed.body.toString("latin1"))}`);
    }
    onProgress(done + n, stats);
  }
  return stats;
}
