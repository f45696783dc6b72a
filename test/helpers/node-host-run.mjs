// Runs one authentication through the Node host (build/host) in its own process — the host blocks its thread
// while the guest waits for the network, so the servers under test must live elsewhere. Reads a JSON request on
// stdin ({service, user, password, args, config, rhost}), prints the outcome's verdict and posts as JSON.
import { readFileSync } from "node:fs";
const { runAuthentication } = await import(new URL("../../build/host/authenticate.js", import.meta.url));
const req = JSON.parse(readFileSync(0, "utf8"));
const outcome = await runAuthentication({
  service: req.service, user: req.user, password: new TextEncoder().encode(req.password), args: req.args,
  config: new TextEncoder().encode(req.config ?? ""), rhost: req.rhost ?? "",
});
process.stdout.write(JSON.stringify({ verdict: outcome.verdict, failure: outcome.failure ?? null }));
