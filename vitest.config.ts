import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end suites start daemons (saslauthd, apache) and the emulator; two cores, so keep it modest.
    maxWorkers: 2,
    // The default console report, plus a JSON copy that .ci/run turns into a plain "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: "build/test-results.json" },
  },
});
