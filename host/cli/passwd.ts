// `pam-mapi passwd USER`: change a Kopano password with the very guest flow pam_mapi.so's pam_sm_chauthtok runs
// (the preliminary check of the current password, then logon -> getUser -> setUser -> logoff -> a logon with the
// new password). Passwords are bytes, read without echo from the terminal, or as lines from stdin (--stdin).
import { runConfigure, type LogLine } from "../authenticate.js";
import { runChauthtok, type Phase } from "../chauthtok.js";
import { ConfigFileError, configPathFor, readConfigFile } from "../config-file.js";
import type { Verdict } from "../guest-values.js";
import { PAM_NAMES } from "./advice.js";
import { moduleArguments, parseCommandLine, UsageError } from "./arguments.js";
import { EXIT } from "./exit-codes.js";
import type { CliInput, CliIo } from "./io.js";
import { MAX_PASSWORD_BYTES, PasswordInterrupted, readPassword } from "./password.js";

export const PASSWD_HELP = `Usage: pam-mapi passwd USER [options]

Changes USER's Kopano password with the same logic as pam_mapi.so's password module: the current password
is checked first, then set with a setUser that keeps every other attribute (admin and hidden flags, features),
and the change counts only once the new password logs in. Prompts without echo for the current password and
the new one (twice); with --stdin (or when stdin is not a terminal) reads two lines: current, then new.

Options:
  --service NAME   PAM service; selects the [NAME] section of the configuration file (default: passwd)
  --config PATH    configuration file (default: /etc/security/pam_mapi.conf)
  --arg KEY=VALUE  a module argument as on the /etc/pam.d line (repeatable), e.g. --arg socket=file:///run/kopano/server.sock
  --stdin          read the current and the new password as two lines from stdin
  --rhost HOST     the remote host to report to the guest (PAM_RHOST)
  --verbose        print the guest's log lines (never a password)
  --help           this text

Exit codes: 0 changed, 1 wrong current password or change refused, 2 usage error, 3 configuration error,
4 servers unavailable, 5 internal error, 130 interrupted.`;

/** Up to `count` lines of stdin as bytes (CR before LF dropped); every chunk is zeroed after copying. */
function readLines(stdin: CliInput, count: number): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const buffer = new Uint8Array(count * (MAX_PASSWORD_BYTES + 2));
    let length = 0;
    let lines = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      stdin.removeListener("data", onData);
      stdin.removeListener("end", onEnd);
      stdin.pause();
      if (error) {
        buffer.fill(0);
        return reject(error);
      }
      const out: Uint8Array[] = [];
      let start = 0;
      for (let i = 0; i <= length && out.length < count; i++) {
        if (i === length || buffer[i] === 0x0a) {
          const end = i > start && buffer[i - 1] === 0x0d ? i - 1 : i;
          if (i < length || end > start) out.push(buffer.slice(start, end));
          start = i + 1;
        }
      }
      buffer.fill(0);
      resolve(out);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      for (let i = 0; i < bytes.length && !done; i++) {
        if (length === buffer.length) {
          bytes.fill(0);
          return finish(new Error(`a password on stdin is longer than ${MAX_PASSWORD_BYTES} bytes`));
        }
        buffer[length++] = bytes[i];
        if (bytes[i] === 0x0a && ++lines === count) {
          bytes.fill(0);
          return finish();
        }
      }
      bytes.fill(0);
    };
    const onEnd = () => finish();
    stdin.on("data", onData);
    stdin.once("end", onEnd);
    stdin.once("error", (e: Error) => finish(e));
    stdin.resume();
  });
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function exitCodeOf(verdict: Verdict): number {
  switch (verdict.code) {
    case "success": return EXIT.ok;
    case "auth-err": case "perm-denied": case "authtok-err": return EXIT.denied;
    case "authinfo-unavail": case "try-again": case "ignore": return EXIT.unavailable;
    default: return EXIT.internal;
  }
}

export async function passwd(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    service: { type: "string", default: "passwd" },
    config: { type: "string" },
    arg: { type: "string", multiple: true },
    stdin: { type: "boolean", default: false },
    rhost: { type: "string", default: "" },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) {
    io.stdout.write(`${PASSWD_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "passwd needs a USER" : `passwd takes one USER, got ${positionals.length}`);
  const user = positionals[0];
  const service = values.service!;
  if (service === "") throw new UsageError("--service needs a non-empty name");
  const args = moduleArguments(values.arg);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  const onLog = values.verbose ? (line: LogLine) => err(`  guest ${line.level}: ${line.message}`) : undefined;

  const where = configPathFor(args, values.config);
  let config: Uint8Array;
  try {
    config = readConfigFile(where.path, where.explicit);
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    err(`pam-mapi passwd: configuration file ${e.message}`);
    err(`fix: ${e.fix}`);
    return EXIT.config;
  }
  // Pin the servers before any password is read, as pam_mapi.so does.
  const configured = await runConfigure({ service, args, config });
  if (!configured.ok) {
    err(`pam-mapi passwd: ${configured.stage === "configure" ? "configuration error: " : ""}${configured.message}`);
    return configured.stage === "guest" ? EXIT.internal : EXIT.config;
  }

  const secrets: Uint8Array[] = [];
  const wipeAll = () => secrets.forEach((s) => s.fill(0));
  try {
    let current: Uint8Array, fresh: Uint8Array;
    const fromLines = values.stdin! || !io.stdin.isTTY || !io.stdin.setRawMode;
    if (fromLines) {
      const lines = await readLines(io.stdin, 2);
      secrets.push(...lines);
      if (lines.length < 2) {
        err("pam-mapi passwd: --stdin needs two lines: the current password, then the new one");
        return EXIT.usage;
      }
      [current, fresh] = lines;
    } else {
      current = await readPassword(io.stdin, io.stderr, `Current Kopano password for ${user}: `, false);
      secrets.push(current);
      fresh = await readPassword(io.stdin, io.stderr, "New password: ", false);
      secrets.push(fresh);
      const again = await readPassword(io.stdin, io.stderr, "Retype new password: ", false);
      secrets.push(again);
      if (!same(fresh, again)) {
        err("pam-mapi passwd: Sorry, passwords do not match.");
        return EXIT.denied;
      }
    }

    const run = async (phase: Phase) => (await runChauthtok({
      service, args, config, phase, user, rhost: values.rhost!,
      // runChauthtok zeroes what it is given: hand it copies, the originals are wiped below
      oldPassword: current.slice(), newPassword: phase === "update" ? fresh.slice() : new Uint8Array(0),
    }, { onLog })).verdict;
    let verdict = await run("prelim");
    if (verdict.code === "success") verdict = await run("update");
    if (verdict.code === "success") {
      io.stdout.write(`pam-mapi passwd: password changed for ${verdict.user || user}\n`);
    } else {
      err(`pam-mapi passwd: ${PAM_NAMES[verdict.code]}: ${verdict.reason}`);
    }
    return exitCodeOf(verdict);
  } catch (e) {
    if (e instanceof PasswordInterrupted) return EXIT.interrupted;
    err(`pam-mapi passwd: cannot read the password: ${(e as Error).message}`);
    return EXIT.usage;
  } finally {
    wipeAll();
  }
}
