// A child process run to its end with its output collected: the one spawn-and-collect the test helpers and files
// share (the CLI, the pty driver for ssh, the getenv tracer's runs).
import { spawn, type SpawnOptions } from "node:child_process";

export interface Outcome { code: number | null; stdout: string; stderr: string }

/** Runs `command args` to its end: its exit code and whatever it wrote to the streams that are pipes. `input` goes
 *  to stdin when stdin is a pipe (closed empty if no input is given). With `timeoutMs`, a child still running then is
 *  killed (SIGKILL; its code is then null). */
export function runProcess(command: string, args: string[], options: SpawnOptions & { timeoutMs?: number } = {}, input?: string): Promise<Outcome> {
  const { timeoutMs, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], ...spawnOptions });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c) => (stdout += c));
    child.stderr?.on("data", (c) => (stderr += c));
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}
