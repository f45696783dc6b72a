// `pam-mapi passwd USER`: change a Kopano password with the very guest flow pam_mapi.so's pam_sm_chauthtok runs
// (the preliminary check of the current password, then logon -> getUser -> setUser -> logoff -> a logon with the
// new password). Passwords are bytes, read without echo from the terminal, or as lines from stdin (--stdin).
import { runConfigure, type LogLine } from "../authenticate.js";
import { runChauthtok, type Phase } from "../chauthtok.js";
import { ConfigFileError, configPathFor, readConfigFile } from "../config-file.js";
import type { Verdict } from "../guest-values.js";
import type { PostRecord } from "../transport/types.js";
import type { Advice } from "./advice.js";
import { moduleArguments, parseCommandLine, UsageError } from "./arguments.js";
import { EXIT } from "./exit-codes.js";
import { writeJson } from "./json.js";
import { adviseOnChange } from "./passwd-advice.js";
import type { CliInput, CliIo } from "./io.js";
import { MAX_PASSWORD_BYTES, PasswordInterrupted, readPassword } from "./password.js";

export const PASSWD_HELP = `Usage: pam-mapi passwd USER [options]

Changes USER's Kopano password with the same logic as pam_mapi.so's password module: the current password
is checked first, then set with a setUser that keeps every other attribute (admin and hidden flags, features),
and the change counts only once the new password logs in. Prompts without echo for the current password and
the new one (twice); with --stdin (or when stdin is not a terminal) reads two lines: current, then new.

At a terminal, once the current password is verified, the change is rehearsed with the current password as
the new one (the server stores the same password again) before the new one is asked for: a user whose
passwords the server takes from LDAP/Active Directory or from the system (user_plugin = ldap or unix) is told
where to change it before typing a new password twice.

Options:
  --service NAME   PAM service; selects the [NAME] section of the configuration file (default: passwd)
  --config PATH    configuration file (default: /etc/security/pam_mapi.conf)
  --arg KEY=VALUE  a module argument as on the /etc/pam.d line (repeatable), e.g. --arg socket=file:///run/kopano/server.sock
  --stdin          read the current and the new password as two lines from stdin (each ends at its LF only)
  --rhost HOST     the remote host to report to the guest (PAM_RHOST)
  --json           print one JSON document (result, cause, fix, each server, the guest's log) instead of text
  --verbose        print the guest's log lines (never a password)
  --help           this text

Exit codes: 0 changed, 1 wrong current password or change refused, 2 usage error, 3 configuration error,
4 servers unavailable, 5 internal error, 130 interrupted.`;

/** Up to `count` lines of stdin as bytes (each ends at its LF; a CR stays, as pam_mapi.so gets it from the
 * conversation); every chunk is zeroed after copying. */
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
          if (i < length || i > start) out.push(buffer.slice(start, i));
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


/** The one JSON document or the text lines of a finished run. */
function report(io: CliIo, json: boolean, doc: PasswdReport, advice: Advice, verdict?: Verdict): number {
  if (json) {
    writeJson(io.stdout, {
      command: "passwd", ...doc,
      result: { pam: advice.pam, code: verdict?.code ?? null, reason: verdict?.reason ?? null, user: verdict?.user || null },
      cause: advice.cause, fix: advice.fix ?? null, exitCode: advice.exitCode,
    });
    return advice.exitCode;
  }
  if (advice.exitCode === EXIT.ok) {
    io.stdout.write(`pam-mapi passwd: password changed for ${verdict?.user || doc.user}\n`);
    return advice.exitCode;
  }
  io.stderr.write(`pam-mapi passwd: ${advice.pam}: ${advice.cause}\n`);
  if (advice.fix) io.stderr.write(`fix: ${advice.fix}\n`);
  return advice.exitCode;
}

interface PasswdReport {
  user: string;
  service: string;
  configuration: { path: string; present: boolean };
  /** prelim, rehearsal (at a terminal), update: the passes that ran */
  passes: string[];
  servers: PostRecord[];
  log: LogLine[];
}

export async function passwd(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    service: { type: "string", default: "passwd" },
    config: { type: "string" },
    arg: { type: "string", multiple: true },
    stdin: { type: "boolean", default: false },
    rhost: { type: "string", default: "" },
    json: { type: "boolean", default: false },
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
  const json = values.json!;
  const args = moduleArguments(values.arg);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  const doc: PasswdReport = { user, service, configuration: { path: "", present: false }, passes: [], servers: [], log: [] };
  const hooks = {
    onLog: (line: LogLine) => {
      doc.log.push(line);
      if (values.verbose && !json) err(`  guest ${line.level}: ${line.message}`);
    },
    onPost: (record: PostRecord) => doc.servers.push(record),
  };
  const finish = (advice: Advice, verdict?: Verdict) => report(io, json, doc, advice, verdict);

  const where = configPathFor(args, values.config);
  doc.configuration.path = where.path;
  let config: Uint8Array;
  try {
    config = readConfigFile(where.path, where.explicit);
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    return finish({ pam: "PAM_SERVICE_ERR", cause: `configuration file ${e.message}`, fix: e.fix, exitCode: EXIT.config });
  }
  doc.configuration.present = config.length > 0;
  // Pin the servers before any password is read, as pam_mapi.so does.
  const configured = await runConfigure({ service, args, config });
  if (!configured.ok) {
    return finish(adviseOnChange({ verdict: { code: "service-err", reason: configured.message, user: "" },
      failure: { stage: configured.stage, message: configured.message }, posts: [], logs: configured.logs }, user, where.path));
  }

  const secrets: Uint8Array[] = [];
  try {
    const interactive = !(values.stdin! || !io.stdin.isTTY || !io.stdin.setRawMode);
    let current: Uint8Array;
    let fresh: Uint8Array | undefined;
    if (!interactive) {
      const lines = await readLines(io.stdin, 2);
      secrets.push(...lines);
      if (lines.length < 2) {
        return finish({ pam: "PAM_AUTHTOK_ERR", exitCode: EXIT.usage, cause: "--stdin needs two lines: the current password, then the new one",
          fix: "printf '%s\\n%s\\n' \"$CURRENT\" \"$NEW\" | pam-mapi passwd USER --stdin" });
      }
      [current, fresh] = lines;
    } else {
      current = await readPassword(io.stdin, io.stderr, `Current Kopano password for ${user}: `, false);
      secrets.push(current);
    }

    const run = async (phase: Phase, pass: string, newPassword: Uint8Array) => {
      doc.passes.push(pass);
      // runChauthtok zeroes what it is given: hand it copies, the originals are wiped below
      return runChauthtok({ service, args, config, phase, user, rhost: values.rhost!, oldPassword: current.slice(),
        newPassword: newPassword.slice() }, hooks);
    };
    let outcome = await run("prelim", "prelim", new Uint8Array(0));
    if (outcome.verdict.code !== "success") return finish(adviseOnChange(outcome, user, where.path), outcome.verdict);
    if (interactive) {
      // The rehearsal: the same password again, so a server that cannot take a change says so before the new
      // password is typed twice. A current password that could not be a new one (rare) only skips it.
      outcome = await run("update", "rehearsal", current);
      const unusable = outcome.verdict.code === "authtok-err" && /^The new password/.test(outcome.verdict.reason);
      if (outcome.verdict.code !== "success" && !unusable) return finish(adviseOnChange(outcome, user, where.path), outcome.verdict);
      fresh = await readPassword(io.stdin, io.stderr, "New password: ", false);
      secrets.push(fresh);
      const again = await readPassword(io.stdin, io.stderr, "Retype new password: ", false);
      secrets.push(again);
      if (!same(fresh, again)) {
        return finish({ pam: "PAM_AUTHTOK_ERR", exitCode: EXIT.denied, cause: "Sorry, passwords do not match.",
          fix: "run it again and type the same new password twice" });
      }
    }
    outcome = await run("update", "update", fresh!);
    return finish(adviseOnChange(outcome, user, where.path), outcome.verdict);
  } catch (e) {
    if (e instanceof PasswordInterrupted) return EXIT.interrupted;
    return finish({ pam: "PAM_AUTHTOK_ERR", exitCode: EXIT.usage, cause: `cannot read the password: ${(e as Error).message}`,
      fix: "type it at the prompt, or pipe two lines to --stdin" });
  } finally {
    secrets.forEach((s) => s.fill(0));
  }
}
