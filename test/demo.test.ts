// The README's main job stays true: `npm run demo` logs in through real PAM against the emulator and every login
// ends as it says.
import { expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./helpers/guest.js";

it("npm run demo: every login ends as expected, and no session is left open", () => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, "scripts/demo.mjs")], { encoding: "utf8", timeout: 120_000 });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/demo: every login ended as expected/);
  expect(r.stdout).toMatch(/0 sessions left open/);
  expect(r.stdout).not.toMatch(/^FAIL/m);
});
