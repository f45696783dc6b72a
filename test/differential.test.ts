// The native host (pam_mapi.so through libpam) and the Node host (host/, jco) run the same guest: for the same
// scenario they must reach the same verdict and send byte-identical request bodies.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmulator, loadUserDb, type Emulator } from "../host/emulator/index.js";
import { MODULE, PAM, makeConfdir, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";
import { repoRoot } from "./helpers/guest.js";
import { nodeHost } from "./helpers/node-host.js";

let tmp: string;
let confdir: string;
let emulator: Emulator;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "differential-"));
  confdir = makeConfdir();
  emulator = await startEmulator({
    users: loadUserDb(path.join(repoRoot, "host/emulator/demo-users.json")),
    listen: [{ http: { host: "127.0.0.1", port: 0 } }, { unix: { path: path.join(tmp, "s.sock"), mode: 0o666 } }],
  });
});
afterAll(async () => {
  await emulator?.close();
  removeConfdir(confdir);
  rmSync(tmp, { recursive: true, force: true });
});

const PAM_OF: Record<string, number> = {
  success: PAM.SUCCESS, "auth-err": PAM.AUTH_ERR, "perm-denied": PAM.AUTH_ERR, "authinfo-unavail": PAM.AUTHINFO_UNAVAIL,
  ignore: PAM.IGNORE, "service-err": PAM.SERVICE_ERR,
};

/** Bodies of the requests the emulator received since `from`, with the random session ids made equal. */
function bodiesSince(from: number): string[] {
  return emulator.requests.slice(from).map((r) => r.body.toString("utf8").replace(/<ulSessionId>\d+</g, "<ulSessionId>SID<"));
}

const scenarios: Array<[string, string, string, string[]]> = [
  ["right password", "alice", "Secr3t!", []],
  ["wrong password", "alice", "nope", []],
  ["UTF-8 password", "bob", "hunter2 ü", []],
  ["password beginning with {2}:", "dave", "{2}:literal", []],
  ["XML metacharacters", "o'hara&<co>", "a&b<c>d]]>\"'", []],
  ["feature enabled", "bob", "hunter2 ü", ["service=imap"]],
  ["feature disabled", "alice", "Secr3t!", ["service=imap|pop3"]],
  ["failover from a dead server", "alice", "Secr3t!", ["FAILOVER"]],
  ["configuration error", "alice", "Secr3t!", ["timeout=0"]],
  ["empty password", "alice", "", []],
];

describe.each(["http", "file"])("native and Node hosts agree over %s", (scheme) => {
  it.each(scenarios)("%s", async (_name, user, password, extra) => {
    const url = emulator.urls.find((u) => u.startsWith(scheme))!;
    const args = extra.includes("FAILOVER")
      ? [`socket=http://127.0.0.1:1/,${url}`]
      : [`socket=${url}`, ...extra];
    const service = `diff-${scheme}`;
    writeConfdir(confdir, service, [`auth required ${MODULE} ${args.join(" ")}`, `account required ${MODULE}`]);

    let mark = emulator.requests.length;
    const native = await runPamdrive(confdir, service, user, ["auth"], { input: [password] });
    const nativeBodies = bodiesSince(mark);

    mark = emulator.requests.length;
    const node = await nodeHost({ service, user, password, args, rhost: "" });
    const nodeBodies = bodiesSince(mark);

    expect(native.ops.auth).toBe(PAM_OF[node.verdict.code]);
    expect(nodeBodies).toEqual(nativeBodies);
    if (password !== "" && !extra.includes("timeout=0")) expect(nativeBodies.length).toBeGreaterThan(0);
  });
});
