import { defineConfig } from "vitest/config";

// Four groups, one after the other:
// - "suite": everything that needs no system daemon and asserts no tight deadline, two files at a time;
// - "timing": the files with deadline bounds, one file at a time (TIMING below);
// - "daemons": the files that start saslauthd, Apache, Postfix, sshd, Dovecot, su and sudo, one file at a time
//   (every daemon process takes one of pam_wrapper's few /tmp/pam.X directories, and two cores are enough for one
//   set);
// - "system-install": the .deb test, which puts pam_mapi.so and /etc/security/pam_mapi.conf into the real system
//   for a moment, alone and last, so no other test ever sees them.
const DAEMONS = [
  "test/consumers.test.ts", "test/load.test.ts", "test/recipes.test.ts", "test/secrets.test.ts",
  "test/sshd.test.ts", "test/dovecot.test.ts",
  "test/setuid.test.ts", "test/hostile-environment.test.ts", "test/env-trace.test.ts",
];
// Files that assert a deadline within 10 % (measured around the call itself): one at a time, with nothing else
// running beside them, so valgrind or a daemon start-up in another file cannot stretch their clocks.
const TIMING = ["test/http-client.test.ts", "test/faults.test.ts", "test/host-transport.test.ts", "test/native.test.ts", "test/cli.test.ts"];
const SYSTEM_INSTALL = ["test/packaging.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    // The default console report, plus a JSON copy that .ci/run turns into a plain "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: "build/test-results.json" },
    projects: [
      { extends: true, test: { name: "suite", include: ["test/**/*.test.ts"], exclude: [...DAEMONS, ...TIMING, ...SYSTEM_INSTALL], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "timing", include: TIMING, fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: "daemons", include: DAEMONS, fileParallelism: false, sequence: { groupOrder: 2 } } },
      { extends: true, test: { name: "system-install", include: SYSTEM_INSTALL, sequence: { groupOrder: 3 } } },
    ],
  },
});
