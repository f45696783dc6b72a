// The man pages (man/, mdoc): clean under mandoc's linter and groff's warnings (as man-db renders them), and
// in step with the code they describe: every option the guest's configuration parser knows, every pam-mapi
// command and option in its --help. Needs the Debian packages mandoc and man-db (scripts/setup.sh).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadGuest, repoRoot, tryConfigure } from "./helpers/guest.js";

const PAGES = ["man/pam_mapi.8", "man/pam_mapi.conf.5", "man/pam-mapi.1"];
const read = (page: string) => readFileSync(path.join(repoRoot, page), "utf8");

/** The page as a reader sees it: rendered by mandoc to plain text (no overstrike). */
function rendered(page: string): string {
  const r = spawnSync("mandoc", ["-T", "utf8", "-O", "width=200", path.join(repoRoot, page)], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return r.stdout.replace(/.\u0008/g, "");
}

/** Every option of the module, written out (not read from the parser's source, which would make the test agree
 * with whatever the code says): a new option is added here, to the man pages and to the parser together. */
const MODULE_KEYS = [
  "socket", "service", "timeout", "cafile", "capath", "try_first_pass", "use_first_pass", "ignore_unavailable", "quiet",
  "debug", "config", "use_authtok",
];

function cliHelp(...args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(repoRoot, "bin/pam-mapi.mjs"), ...args], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return r.stdout;
}

describe.each(PAGES)("%s", (page) => {
  it("passes mandoc -T lint without a warning", () => {
    const r = spawnSync("mandoc", ["-T", "lint", "-W", "warning", path.join(repoRoot, page)], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("renders through man-db and groff without a warning (man --warnings)", () => {
    const r = spawnSync("man", ["--warnings", "-l", path.join(repoRoot, page)], {
      encoding: "utf8", env: { ...process.env, MANPAGER: "cat", PAGER: "cat", MANWIDTH: "80" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/NAME/);
  });

  it("names its section and links the other two pages", () => {
    const text = read(page);
    const section = page.split(".").pop();
    expect(text).toMatch(new RegExp(`^\\.Dt \\S+ ${section}$`, "m"));
    const others = PAGES.filter((p) => p !== page).map((p) => {
      const base = path.basename(p);
      const dot = base.lastIndexOf(".");
      return `.Xr ${base.slice(0, dot)} ${base.slice(dot + 1)}`;
    });
    for (const link of others) expect(text).toContain(link);
  });
});

describe("in step with the code", () => {
  it("pam_mapi(8) and pam_mapi.conf(5) describe every option the guest's parser accepts", () => {
    const module = rendered("man/pam_mapi.8");
    const file = rendered("man/pam_mapi.conf.5");
    for (const key of MODULE_KEYS) {
      expect(module, `pam_mapi(8) lacks ${key}`).toMatch(new RegExp(`\\b${key}\\b`));
      expect(file, `pam_mapi.conf(5) lacks ${key}`).toMatch(new RegExp(`\\b${key}\\b`));
    }
  });

  it("the list above is what the guest's parser knows: each key is accepted, a key beside it is not", async () => {
    const guest = await loadGuest();
    for (const key of MODULE_KEYS) {
      const r = tryConfigure(guest, "login", [key], "");
      expect(r.ok ? "" : r.error, key).not.toMatch(/unknown key/);
    }
    const unknown = tryConfigure(guest, "login", ["no_such_option"], "");
    expect(unknown.ok ? "" : unknown.error).toMatch(/unknown key 'no_such_option' \(known: ([a-z_]+, )*[a-z_]+\)/);
    // and the parser's own list of known keys, from its error message, is exactly this one
    const known = /\(known: ([^)]*)\)/.exec(unknown.ok ? "" : unknown.error)![1].split(/,\s*/);
    expect([...known].sort()).toEqual([...MODULE_KEYS].sort());
  });

  it("pam_mapi(8) lists every PAM result the README's table gives, and explains NO_UID_AUTH on the socket", () => {
    const module = rendered("man/pam_mapi.8");
    for (const code of ["PAM_SUCCESS", "PAM_AUTH_ERR", "PAM_PERM_DENIED", "PAM_AUTHINFO_UNAVAIL", "PAM_IGNORE", "PAM_SERVICE_ERR"]) {
      expect(module).toContain(code);
    }
    expect(module).toMatch(/SECURITY CONSIDERATIONS[\s\S]*unix socket[\s\S]*NO_UID_AUTH/);
  });

  it("pam_mapi(8) gives the credential and session steps' answers as the module does (pam-policy pins the code)", () => {
    const module = rendered("man/pam_mapi.8").replace(/\s+/g, " ");
    expect(module).toMatch(/pam_sm_setcred\(\) returns PAM_SUCCESS/);
    expect(module).toMatch(/session Opens and closes nothing and answers as pam_unix\(8\) does: PAM_SUCCESS for a named user, PAM_SESSION_ERR/);
    expect(module).not.toMatch(/session Takes no part/);
  });

  it("pam-mapi(1) documents every command and every option of their --help", () => {
    const page = rendered("man/pam-mapi.1");
    const commands = [...cliHelp("--help").matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]).filter((c) => c !== "help");
    expect(commands).toEqual(expect.arrayContaining(["check", "config", "emulate"]));
    for (const command of commands) {
      expect(page, `pam-mapi(1) lacks ${command}`).toMatch(new RegExp(`pam-mapi ${command}\\b`));
      const options = [...cliHelp(command, "--help").matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]);
      expect(options.length).toBeGreaterThan(0);
      for (const option of options) expect(page, `pam-mapi(1) lacks ${command} ${option}`).toContain(option);
    }
  });

  it("pam-mapi(1) gives the same exit codes as pam-mapi --help", () => {
    const page = rendered("man/pam-mapi.1");
    const codes = [...cliHelp("--help").matchAll(/^ {2}(\d+) +/gm)].map((m) => m[1]);
    expect(codes).toEqual(["0", "1", "2", "3", "4", "5", "130"]);
    for (const code of codes) expect(page).toMatch(new RegExp(`^ +${code}(\\s|$)`, "m"));
  });
});
