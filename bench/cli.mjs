#!/usr/bin/env node
// The `pam-mapi` command's start-up, as an administrator or a monitoring loop sees it: wall time of whole processes,
// `pam-mapi --version`, `pam-mapi config` and `pam-mapi check` (against the Kopano emulator on 127.0.0.1, started
// with `pam-mapi emulate`), beside the same check made by pamtester (libpam and pam_mapi.so in one process, under
// pam_wrapper) and by testsaslauthd (a request to a running saslauthd, whose PAM stack holds pam_mapi.so), and
// beside a bare `node -e 0` (the floor of any Node command). Runs are interleaved; median and p90 per command.
// The installed launcher is measured (scripts/pam-mapi.launcher.sh pointing at this checkout), so the figure
// includes the shell that execs Node.
//   node bench/cli.mjs [--runs N] [--no-build]   (standalone; also part of npm run bench)
// Needs root (saslauthd runs PAM as root), the setup.sh packages, and npm run build.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const USER = "alice";
const PASSWORD = "Secr3t!"; // the emulator's demo user (host/emulator/demo-users.json)

/** median and p90 (nearest rank) of `xs`, in ms. */
function spread(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const rank = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { median: rank(0.5), p90: rank(0.9), min: s[0], max: s[s.length - 1], runs: s.length };
}

/** Starts `pam-mapi emulate` on a free port; resolves with its URL and a stop function. */
function startEmulator() {
  const child = spawn(process.execPath, [path.join(root, "bin/pam-mapi.mjs"), "emulate", "--http", "127.0.0.1:0"],
    { stdio: ["ignore", "pipe", "inherit"] });
  const url = new Promise((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (d) => {
      text += d;
      const m = /^listening: (\S+)$/m.exec(text);
      if (m && text.includes("stop with Ctrl-C")) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`pam-mapi emulate exited (${code}) before it listened: ${text}`)));
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return { url, stop: async () => { if (child.exitCode === null) { child.kill("SIGTERM"); await exited; } } };
}

/**
 * The CLI figures. `helpers` are test/helpers/daemons.ts compiled (bench/run.mjs does that); `dir` a scratch
 * directory others may enter. Returns { unit, commands: { name: spread } }.
 */
export async function benchCli({ helpers, dir, runs }) {
  const { startSaslauthd, writePamServiceDir, pamWrapperEnv } = helpers;
  const stops = [];
  try {
    const emulator = startEmulator();
    stops.push(emulator.stop);
    const url = await emulator.url;
    const config = path.join(dir, "cli-empty.conf");
    writeFileSync(config, "", { mode: 0o644 });
    const launcher = path.join(dir, "pam-mapi");
    writeFileSync(launcher, readFileSync(path.join(root, "scripts/pam-mapi.launcher.sh"), "utf8").replaceAll("@LIBDIR@", root));
    chmodSync(launcher, 0o755);
    const so = path.join(root, "build/pam_mapi.so");
    const pamDir = writePamServiceDir(path.join(dir, "cli-pam.d"), {
      "cli-check": `auth required ${so} config=${config} socket=${url}\naccount required ${so} config=${config}\n`,
    });
    const sasl = await startSaslauthd({ serviceDir: pamDir, processes: 1 });
    stops.push(() => sasl.stop());

    const env = { PATH: process.env.PATH };
    const commands = {
      "node -e 0 (floor)": [process.execPath, ["-e", "0"], {}],
      "pam-mapi --version": [launcher, ["--version"], {}],
      "pam-mapi config": [launcher, ["config", "--config", config, "--arg", `socket=${url}`], {}],
      "pam-mapi check": [launcher, ["check", USER, "--password-stdin", "--config", config, "--arg", `socket=${url}`], { input: `${PASSWORD}\n` }],
      "pamtester (pam_wrapper)": ["pamtester", ["cli-check", USER, "authenticate"], { input: `${PASSWORD}\n`, env: pamWrapperEnv(pamDir) }],
      "testsaslauthd": ["testsaslauthd", ["-u", USER, "-p", PASSWORD, "-s", "cli-check", "-f", sasl.socketPath], {}],
    };
    const once = ([command, args, options]) => {
      const started = process.hrtime.bigint();
      const r = spawnSync(command, args, { input: options.input ?? "", env: { ...env, ...options.env }, encoding: "utf8" });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Every timed run must have succeeded, or the figure is for something else.
      if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.status}: ${r.stdout}${r.stderr}`);
      return ms;
    };
    for (const c of Object.values(commands)) once(c); // warm the page cache and the emulator
    const times = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, c] of Object.entries(commands)) times[name].push(once(c));
    }
    return {
      unit: "ms per command (whole process, wall time)", server: "pam-mapi emulate on 127.0.0.1 (http)",
      targets: { "pam-mapi --version": 100, "pam-mapi check": 200 },
      commands: Object.fromEntries(Object.entries(times).map(([name, xs]) => [name, spread(xs)])),
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

/** Table rows: [figure, what, median (p90), target]. */
export function cliRows(cli) {
  return Object.entries(cli.commands).map(([name, s], i) => [
    i === 0 ? "CLI start-up ms/command" : i === 1 ? `(${s.runs} runs, median (p90))` : "",
    name, `${s.median.toFixed(1)} (${s.p90.toFixed(1)})`, cli.targets[name] ? `≤ ${cli.targets[name]}` : "",
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const runsArg = argv.indexOf("--runs");
  const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : 21;
  if (process.getuid?.() !== 0) {
    console.error("bench/cli.mjs: run me as root (saslauthd runs PAM as root)");
    process.exit(1);
  }
  if (!argv.includes("--no-build")) execFileSync("npm", ["run", "-s", "build:host"], { cwd: root, stdio: "inherit" });
  execFileSync(path.join(root, "node_modules/.bin/tsc"), ["--outDir", "build/bench/helpers", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck", "--types", "node", "test/helpers/daemons.ts"],
  { cwd: root, stdio: "inherit" });
  const helpers = await import(path.join(root, "build/bench/helpers/daemons.js"));
  const dir = helpers.sharedTempDir("pam-mapi-bench-cli-");
  try {
    const cli = await benchCli({ helpers, dir, runs });
    for (const row of cliRows(cli)) console.log(`| ${row.join(" | ")} |`);
  } finally {
    await helpers.stopAll();
    execFileSync("rm", ["-rf", dir]);
  }
}
