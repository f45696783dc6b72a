// Runs one chauthtok pass through the Node host (build/host) in its own process: the host blocks its thread while
// the guest waits for the network, so the servers under test must live elsewhere. Reads a JSON request on stdin
// ({service, phase, user, oldPassword, newPassword (byte arrays), args, rhost}), prints the verdict and whether both
// password buffers were zeroed afterwards.
import { readFileSync } from "node:fs";
const { runChauthtok } = await import(new URL("../../build/host/chauthtok.js", import.meta.url));
const req = JSON.parse(readFileSync(0, "utf8"));
const oldPassword = Uint8Array.from(req.oldPassword);
const newPassword = Uint8Array.from(req.newPassword);
const outcome = await runChauthtok({
  service: req.service, phase: req.phase, user: req.user, oldPassword, newPassword, args: req.args,
  config: new Uint8Array(0), rhost: req.rhost ?? "",
});
const wiped = oldPassword.every((b) => b === 0) && newPassword.every((b) => b === 0);
process.stdout.write(JSON.stringify({ verdict: outcome.verdict, failure: outcome.failure ?? null, wiped }));
