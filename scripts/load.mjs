#!/usr/bin/env node
// npm run load -- [--sasl N] [--apache N]
// The full load inside the real daemons (test/load.test.ts): saslauthd -a pam -n 4 with 50 000 mixed
// authentications and Apache (worker MPM, 16 clients) with 10 000 requests, by default. Needs root and
// `npm run build`. The figures are printed and written to build/load-figures.json.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { sasl: { type: "string", default: "50000" }, apache: { type: "string", default: "10000" } } });
const run = spawnSync(path.join(root, "node_modules/.bin/vitest"), ["run", "test/load.test.ts", "--reporter=default"], {
  cwd: root, stdio: "inherit", env: { ...process.env, LOAD_SASL: values.sasl, LOAD_APACHE: values.apache },
});
try {
  console.log(readFileSync(path.join(root, "build/load-figures.json"), "utf8"));
} catch {
  console.error("no figures were written");
}
process.exit(run.status ?? 1);
