// `pam-mapi`: the administrator's command. main() returns the exit code; bin/pam-mapi.mjs calls it with the
// process's streams. Each command's module is imported only when it runs (or its help is asked for): `--version`
// loads nothing but package.json, and `config` never loads the transport, so the command starts fast enough for
// a monitoring loop (docs/performance.md).
import { packageVersion } from "../package-root.js";
import { UsageError } from "./arguments.js";
import { EXIT, EXIT_CODE_HELP } from "./exit-codes.js";
import type { CliIo } from "./io.js";

export type { CliIo };

interface Command { run: (argv: string[], io: CliIo) => Promise<number>; help: string }
const COMMANDS: Record<string, () => Promise<Command>> = {
  check: async () => { const m = await import("./check.js"); return { run: m.check, help: m.CHECK_HELP }; },
  config: async () => { const m = await import("./config.js"); return { run: m.config, help: m.CONFIG_HELP }; },
  emulate: async () => { const m = await import("./emulate.js"); return { run: m.emulate, help: m.EMULATE_HELP }; },
  passwd: async () => { const m = await import("./passwd.js"); return { run: m.passwd, help: m.PASSWD_HELP }; },
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
    if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) return usageError(io, `no command ${JSON.stringify(topic)}`);
    io.stdout.write(`${topic === undefined ? MAIN_HELP : (await COMMANDS[topic]()).help}\n`);
    return EXIT.ok;
  }
  const load = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!load) return usageError(io, first.startsWith("-") ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`);
  try {
    return await (await load()).run(rest, io);
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
