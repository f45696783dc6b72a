// `pam-mapi`: the administrator's command. main() returns the exit code; bin/pam-mapi.mjs calls it with the
// process's streams.
import { packageVersion } from "../package-root.js";
import { UsageError } from "./arguments.js";
import { check, CHECK_HELP } from "./check.js";
import { config, CONFIG_HELP } from "./config.js";
import { emulate, EMULATE_HELP } from "./emulate.js";
import { EXIT, EXIT_CODE_HELP } from "./exit-codes.js";
import { passwd, PASSWD_HELP } from "./passwd.js";
import type { CliIo } from "./io.js";

export type { CliIo };

const COMMANDS: Record<string, { run: (argv: string[], io: CliIo) => Promise<number>; help: string }> = {
  check: { run: check, help: CHECK_HELP },
  config: { run: config, help: CONFIG_HELP },
  emulate: { run: emulate, help: EMULATE_HELP },
  passwd: { run: passwd, help: PASSWD_HELP },
};

export const MAIN_HELP = `Usage: pam-mapi COMMAND [options]

Administers pam_mapi, the PAM module that checks passwords against a Kopano or Zarafa server.

Commands:
  check USER   check a password the way pam_mapi.so does, and explain the result
  config       validate the configuration and print the effective settings per PAM service
  emulate      run a Kopano server emulator to try pam_mapi without a Kopano installation
  passwd USER  change a Kopano password the way pam_mapi.so's password module does
  help [CMD]   show help for a command

Options:
  --help       show help (also after every command: pam-mapi check --help)
  --version    print the version
  --json       after check or config: one JSON document on stdout instead of the report

Environment:
  NO_COLOR     set (non-empty) for no colour; colour is used only when stdout is a terminal

${EXIT_CODE_HELP}`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h") {
    (first === undefined ? io.stderr : io.stdout).write(`${MAIN_HELP}\n`);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === "--version" || first === "-V") {
    io.stdout.write(`pam-mapi ${packageVersion}\n`);
    return EXIT.ok;
  }
  if (first === "help") {
    const topic = rest[0];
    if (topic !== undefined && !(topic in COMMANDS)) return usageError(io, `no command ${JSON.stringify(topic)}`);
    io.stdout.write(`${topic === undefined ? MAIN_HELP : COMMANDS[topic].help}\n`);
    return EXIT.ok;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!command) return usageError(io, first.startsWith("-") ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`);
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) return usageError(io, e.message, first);
    io.stderr.write(`pam-mapi ${first}: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n` +
      "fix: this is a bug in pam_mapi (or a stale build: npm run build); please report it with this output\n");
    return EXIT.internal;
  }
}

function usageError(io: CliIo, message: string, command?: string): number {
  io.stderr.write(`pam-mapi: ${message}\nfix: see \`pam-mapi ${command ? `${command} ` : ""}--help\`\n`);
  return EXIT.usage;
}
