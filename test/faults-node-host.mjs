// For test/faults.test.ts: one authentication through the Node host (build/host) in this process, timed around the
// runAuthentication call itself. Reads {password, args} as JSON on stdin, prints {code, ms}. A file rather than
// `node -e`: the host's transport worker inherits the parent's exec arguments.
import { readFileSync } from "node:fs";
const { runAuthentication } = await import(new URL("../build/host/authenticate.js", import.meta.url));
const req = JSON.parse(readFileSync(0, "utf8"));
const t0 = performance.now();
const outcome = await runAuthentication({
  service: "faults", user: "alice", password: new TextEncoder().encode(req.password), args: req.args,
  config: new Uint8Array(), rhost: "",
});
process.stdout.write(JSON.stringify({ code: outcome.verdict?.code ?? null, ms: performance.now() - t0 }));
