// `pam-mapi passwd` to check's standard: a cause and a fix for every failure, --json, and a user whose passwords
// the server cannot change (user_plugin ldap or unix) told so before typing a new password twice. The emulator
// runs in a child process (`pam-mapi emulate`): the CLI's transport blocks its own thread while it waits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { repoRoot } from "./helpers/guest.js";
import { cliBin, emulateBanner, runCli } from "./helpers/cli.js";

const bin = cliBin;
const { main } = await import(path.join(repoRoot, "build/host/cli/main.js"));
const tmp = mkdtempSync(path.join(os.tmpdir(), "pam-mapi-passwd-"));
chmodSync(tmp, 0o755);
const empty = path.join(tmp, "empty.conf");
writeFileSync(empty, "", { mode: 0o644 });

const emulators: ChildProcess[] = [];
/** `pam-mapi emulate --unix` with these users; its socket URL. */
async function emulate(name: string, db: object): Promise<string> {
  const users = path.join(tmp, `${name}.json`);
  writeFileSync(users, JSON.stringify(db));
  const socket = path.join(tmp, `${name}.sock`);
  const child = spawn(process.execPath, [bin, "emulate", "--unix", socket, "--users", users], { stdio: ["ignore", "pipe", "pipe"] });
  emulators.push(child);
  await emulateBanner(child);
  return `file://${socket}`;
}

const user = (plugin: string) => ({ userPlugin: plugin, users: [{ name: "pat", password: "Old-pass1" }] });
const urls: Record<string, string> = {};
beforeAll(async () => {
  for (const plugin of ["db", "ldap", "unix"]) urls[plugin] = await emulate(plugin, user(plugin));
});
afterAll(() => {
  for (const child of emulators) child.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

/** main() with a terminal-like stdin that answers each prompt on stderr with the next of `answers`. */
async function atTerminal(argv: string[], answers: string[]) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode() {} });
  let stderr = "";
  let stdout = "";
  const prompts: string[] = [];
  const io = {
    stdin, env: {},
    stdout: { write: (t: string) => { stdout += t; } },
    stderr: {
      isTTY: true,
      write: (t: string) => {
        stderr += t;
        if (/: $/.test(t)) {
          prompts.push(t);
          const answer = answers.shift();
          if (answer !== undefined) setImmediate(() => stdin.write(`${answer}\r`));
        }
      },
    },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr, prompts };
}

const cli = runCli;

describe("pam-mapi passwd at a terminal", () => {
  it.each([
    ["ldap", /LDAP\/Active Directory/, /fix: change the password in the LDAP\/Active Directory server/],
    ["unix", /Unix user plugin/, /fix: with user_plugin = unix the password is the system account's: change it with the system passwd/],
  ])("a %s-plugin user learns where passwords are managed before typing a new one", async (plugin, cause, fix) => {
    const r = await atTerminal(["passwd", "pat", "--config", empty, "--arg", `socket=${urls[plugin]}`], ["Old-pass1", "New-pass2", "New-pass2"]);
    expect(r.prompts).toEqual(["Current Kopano password for pat: "]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pam-mapi passwd: PAM_AUTHTOK_ERR: /);
    expect(r.stderr).toMatch(cause);
    expect(r.stderr).toMatch(fix);
  });

  it("a DB-plugin user is asked twice after the rehearsal, and the change is made", async () => {
    const r = await atTerminal(["passwd", "pat", "--config", empty, "--arg", `socket=${urls.db}`], ["Old-pass1", "New-pass2", "New-pass2"]);
    expect(r.prompts).toEqual(["Current Kopano password for pat: ", "New password: ", "Retype new password: "]);
    expect(r.stdout).toBe("pam-mapi passwd: password changed for pat\n");
    expect(r.code).toBe(0);
    const back = await atTerminal(["passwd", "pat", "--config", empty, "--arg", `socket=${urls.db}`], ["New-pass2", "Old-pass1", "Old-pass1"]);
    expect(back.code).toBe(0);
  });

  it("a wrong current password stops before the new one is asked for, with a cause and a fix", async () => {
    const r = await atTerminal(["passwd", "pat", "--config", empty, "--arg", `socket=${urls.db}`], ["nope", "x", "x"]);
    expect(r.prompts).toEqual(["Current Kopano password for pat: "]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PAM_AUTH_ERR: wrong current password or unknown user\nfix: type the current Kopano password/);
  });

  it("different new passwords: a cause and a fix", async () => {
    const r = await atTerminal(["passwd", "pat", "--config", empty, "--arg", `socket=${urls.db}`], ["Old-pass1", "New-pass2", "New-pass3"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Sorry, passwords do not match\.\nfix: run it again and type the same new password twice/);
  });
});

describe("pam-mapi passwd --json", () => {
  it("one document per run: result, cause, fix, servers; never a password", async () => {
    const wrong = await cli(["passwd", "pat", "--config", empty, "--stdin", "--json", "--arg", `socket=${urls.db}`], "nope\nNew-pass9\n");
    expect(wrong.code).toBe(1);
    const doc = JSON.parse(wrong.stdout);
    expect(doc).toMatchObject({ command: "passwd", user: "pat", passes: ["prelim"], exitCode: 1,
      result: { pam: "PAM_AUTH_ERR", code: "auth-err" }, fix: expect.stringMatching(/current Kopano password/) });
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(wrong.stdout).not.toContain("New-pass9");
    const down = await cli(["passwd", "pat", "--config", empty, "--stdin", "--json", "--arg", `socket=file://${tmp}/absent.sock`], "Old-pass1\nNew-pass9\n");
    expect(down.code).toBe(4);
    expect(JSON.parse(down.stdout)).toMatchObject({ result: { pam: "PAM_TRY_AGAIN" },
      cause: expect.stringMatching(/no such socket \(ENOENT\)/), fix: expect.stringMatching(/socket= names the wrong path/) });
    const config = await cli(["passwd", "pat", "--config", empty, "--stdin", "--json", "--arg", "timeout=soon"], "Old-pass1\nNew-pass9\n");
    expect(config.code).toBe(3);
    expect(JSON.parse(config.stdout)).toMatchObject({ result: { pam: "PAM_SERVICE_ERR" }, fix: "write timeout=SECONDS, from 0.1 to 300, e.g. timeout=10 (on the pam_mapi.so line in /etc/pam.d, or --arg)" });
  });
});
