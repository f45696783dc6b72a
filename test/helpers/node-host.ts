// One authentication through the Node host (test/helpers/node-host-run.mjs) in a child process: the host blocks its
// thread while the guest waits on the network, so the servers under test (in this process) must be free to answer.
import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./guest.js";

export interface NodeHostOutcome { verdict: { code: string; reason: string; user: string } }

/** `request`: {service, user, password, args, config?, rhost?}; rejects if the child does not exit 0. */
export function nodeHost(request: object): Promise<NodeHostOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "test/helpers/node-host-run.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`node host exited ${code}`))));
    child.stdin.end(JSON.stringify(request));
  });
}
