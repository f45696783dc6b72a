import { defineConfig } from "vitest/config";

// Tests that install into the real system (dpkg -i of the .deb puts pam_mapi.so and /etc/security/pam_mapi.conf
// in place for a moment) run in a second group, after every other file has finished, so no test ever sees the
// machine-wide default configuration of another.
const SYSTEM_INSTALL = ["test/packaging.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end suites start daemons (saslauthd, apache) and the emulator; two cores, so keep it modest.
    maxWorkers: 2,
    // The default console report, plus a JSON copy that .ci/run turns into a plain "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: "build/test-results.json" },
    projects: [
      { extends: true, test: { name: "suite", include: ["test/**/*.test.ts"], exclude: SYSTEM_INSTALL, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "system-install", include: SYSTEM_INSTALL, sequence: { groupOrder: 1 } } },
    ],
  },
});
