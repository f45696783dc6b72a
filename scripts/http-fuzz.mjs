// The HTTP client's differential campaign for `npm run fuzz` (see test/fuzz/http-fuzz.c): coverage-guided with
// libFuzzer when Debian's clang and libclang-rt-14-dev are installed, else the plain generator driver. Both under
// ASan/UBSan, with a fresh seed each run (printed, so a run can be repeated). The libFuzzer corpus grows in
// build/fuzz/http-corpus-work, seeded from test/fuzz/http-corpus; a finding is saved as build/fuzz/crash-*.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUILD = path.join(root, "test/fuzz/build-http-fuzz.sh");

const hasLibFuzzer = () => spawnSync("sh", ["-c", "command -v clang"]).status === 0;

/** Runs the campaign for `seconds`; resolves to its figures. */
export async function runHttpCampaign({ seconds, seed }) {
  if (!hasLibFuzzer()) {
    console.log("http fuzzer: clang not found (apt-get install clang libclang-rt-14-dev for the coverage-guided " +
      "campaign); running the plain generator instead");
    execFileSync("bash", [BUILD], { cwd: root, stdio: "inherit" });
    const r = spawnSync(path.join(root, "build/fuzz/http-fuzz"), ["--seconds", String(seconds), "--seed", String(seed)],
      { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    process.stdout.write(r.stdout);
    const cases = Number(/http-fuzz: (\d+) cases/.exec(r.stdout)?.[1] ?? 0);
    return { engine: "generator", seed, execs: cases, seconds, findings: r.status === 0 ? 0 : 1 };
  }
  execFileSync("bash", [BUILD, "--libfuzzer"], { cwd: root, stdio: "inherit" });
  const work = path.join(root, "build/fuzz/http-corpus-work");
  mkdirSync(work, { recursive: true });
  cpSync(path.join(root, "test/fuzz/http-corpus"), work, { recursive: true, filter: (f) => !path.basename(f).startsWith(".") });
  const args = [`-seed=${seed}`, `-max_total_time=${seconds}`, "-max_len=40000", `-dict=${path.join(root, "test/fuzz/http.dict")}`,
    `-artifact_prefix=${path.join(root, "build/fuzz")}/`, "-print_final_stats=1", work];
  console.log(`http fuzzer (libFuzzer): build/fuzz/http-fuzz-libfuzzer ${args.join(" ")}`);
  const t0 = Date.now();
  const child = spawn(path.join(root, "build/fuzz/http-fuzz-libfuzzer"), args, { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  let last = "", execs = 0, tail = "", partial = "";
  const figures = {};
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text) => {
    tail = (tail + text).slice(-20000);
    const lines = (partial + text).split("\n");
    partial = lines.pop(); // a line cut between two reads waits for its end
    for (const line of lines) {
      const m = /^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/.exec(line);
      if (m) {
        execs = Number(m[1]);
        Object.assign(figures, { cov: Number(m[3]), ft: Number(m[4]), corpus: Number(m[5]) });
        if (m[2] === "pulse" || m[2] === "DONE" || m[2] === "INITED") console.log(`  ${line.trim()}`);
      }
      const stat = /^stat::number_of_executed_units: (\d+)/.exec(line);
      if (stat) execs = Number(stat[1]);
      if (/FINDING|ERROR|runtime error|artifact/.test(line)) console.error(line), (last = line);
    }
  });
  const code = await new Promise((resolve) => child.on("exit", (c) => resolve(c)));
  if (code !== 0) console.error(tail.split("\n").filter((l) => !/^#\d+/.test(l)).slice(-40).join("\n"));
  return { engine: "libFuzzer", seed, execs, seconds: Math.round((Date.now() - t0) / 1000), ...figures, findings: code === 0 ? 0 : 1, last };
}
