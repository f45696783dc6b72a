// `pam-mapi emulate`: runs the Kopano server emulator (host/emulator) for trying pam_mapi without a Kopano
// installation, prints its URLs and stops on SIGINT/SIGTERM.
import { statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../package-root.js";
import { parseCommandLine, UsageError } from "./arguments.js";
import { EXIT } from "./exit-codes.js";
import type { CliIo } from "./io.js";

export const EMULATE_HELP = `Usage: pam-mapi emulate [options]

Starts the Kopano/Zarafa server emulator (logon, getUser, logoff as the real server answers them) and
prints its URLs for socket=. Stops on Ctrl-C (SIGINT) or SIGTERM. Without a listener option it listens
on http://127.0.0.1 with a free port.

Options:
  --users FILE        user database (JSON; default: the demo users, alice / "Secr3t!")
  --profile P         kopano-11 (default), kopano-9, kopano-8.7.16, zarafa-7.2, zarafa-7.1, zarafa-7.0
  --http HOST:PORT    plain HTTP listener, e.g. 127.0.0.1:236 (repeatable; port 0 = any free port)
  --https HOST:PORT   HTTPS listener (repeatable), needs --cert and --key
  --cert FILE         PEM certificate (chain) for --https
  --key FILE          PEM private key for --https
  --unix PATH         unix socket listener, e.g. /tmp/kopano.sock (use socket=file:///tmp/kopano.sock);
                      mode 0666 like kopano-server's, so www-data (Apache) can connect. Only a stale
                      socket at PATH is replaced: a file, a directory or a live server's socket is refused
  --verbose           print the emulator's log lines on stderr
  --help              this text

The users file is JSON: { "defaultDisabledFeatures": ["imap", "pop3"], "users": [ { "name": "alice",
"password": "Secr3t!", "active": true, "enabledFeatures": [], "disabledFeatures": [] } ] } (pam-mapi(1)).

Exit codes: 0 stopped cleanly, 2 usage error, 3 bad users file / certificate, 5 internal error.`;

const PROFILES = ["kopano-11", "kopano-9", "kopano-8.7.16", "zarafa-7.2", "zarafa-7.1", "zarafa-7.0"] as const;

type Listen =
  | { http: { host?: string; port?: number } }
  | { https: { host?: string; port?: number; key: string | Buffer; cert: string | Buffer } }
  | { unix: { path: string; mode?: number } };
interface Emulator {
  urls: string[];
  close(): Promise<void>;
  listUsers(): Array<{ name: string; active: boolean; enabled: string[]; disabled: string[] }>;
}
interface EmulatorModule {
  startEmulator(o: { profile?: string; users: unknown; listen: Listen[]; log?: (line: string) => void }): Promise<Emulator>;
  loadUserDb(path: string): unknown;
}

/** "127.0.0.1:236", "[::1]:0", "localhost:8080" */
export function hostPort(text: string, option: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match || Number(match[3]) > 65535) throw new UsageError(`${option} ${JSON.stringify(text)}: expected HOST:PORT, e.g. 127.0.0.1:236 or [::1]:0`);
  return { host: match[1] ?? match[2], port: Number(match[3]) };
}

export async function emulate(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    users: { type: "string" },
    profile: { type: "string", default: "kopano-11" },
    http: { type: "string", multiple: true },
    https: { type: "string", multiple: true },
    cert: { type: "string" },
    key: { type: "string" },
    unix: { type: "string", multiple: true },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) {
    io.stdout.write(`${EMULATE_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length) throw new UsageError(`emulate: unexpected argument ${JSON.stringify(positionals[0])}`);
  if (!(PROFILES as readonly string[]).includes(values.profile!)) {
    throw new UsageError(`--profile ${values.profile}: one of ${PROFILES.join(", ")}`);
  }
  if (values.https?.length && (!values.cert || !values.key)) throw new UsageError("--https needs --cert FILE and --key FILE");
  if (!values.https?.length && (values.cert || values.key)) throw new UsageError("--cert and --key only make sense with --https");

  const emulatorModule = path.join(packageRoot, "build", "host", "emulator", "index.js");
  let emulator: EmulatorModule;
  try {
    emulator = await import(pathToFileURL(emulatorModule).href);
  } catch (e) {
    io.stderr.write(`pam-mapi emulate: cannot load the emulator ${emulatorModule}: ${(e as Error).message}\nfix: npm run build:host\n`);
    return EXIT.internal;
  }

  const { readFileSync } = await import("node:fs");
  const usersFile = values.users ?? path.join(packageRoot, "host", "emulator", "demo-users.json");
  let users: unknown;
  const listen: Listen[] = [];
  try {
    users = emulator.loadUserDb(usersFile);
    for (const h of values.http ?? []) listen.push({ http: hostPort(h, "--http") });
    if (values.https?.length) {
      const cert = readFileSync(values.cert!);
      const key = readFileSync(values.key!);
      for (const h of values.https) listen.push({ https: { ...hostPort(h, "--https"), cert, key } });
    }
    // 0666 as kopano-server makes its server.sock: the Apache recipe's www-data must be able to connect.
    for (const p of values.unix ?? []) listen.push({ unix: { path: path.resolve(p), mode: 0o666 } });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    io.stderr.write(`pam-mapi emulate: ${(e as Error).message}\nfix: check --users, --cert and --key (readable files)\n`);
    return EXIT.config;
  }
  if (listen.length === 0) listen.push({ http: { host: "127.0.0.1", port: 0 } });

  let running: Emulator;
  try {
    running = await emulator.startEmulator({
      profile: values.profile, users, listen,
      log: values.verbose ? (line) => io.stderr.write(`${line}\n`) : undefined,
    });
  } catch (e) {
    const fix = (e as { fix?: unknown }).fix;
    io.stderr.write(`pam-mapi emulate: cannot start: ${(e as Error).message}\n` +
      `fix: ${typeof fix === "string" ? fix : "choose a free port (or port 0), a writable socket directory, and a matching --cert/--key pair"}\n`);
    return EXIT.config;
  }
  io.stdout.write(`emulating ${values.profile} with users from ${usersFile}\n`);
  for (const url of running.urls) io.stdout.write(`listening: ${url}\n`);
  for (const p of values.unix ?? []) {
    const blocked = unreachableDirectory(path.resolve(p));
    if (blocked) io.stdout.write(`warning: other users (www-data) cannot reach ${path.resolve(p)}: ${blocked}\n`);
  }
  io.stdout.write("users (passwords: see the users file):\n");
  for (const u of running.listUsers()) {
    io.stdout.write(`  ${u.name}${u.active ? "" : " (inactive)"}: features enabled ${u.enabled.join(" ") || "none"}; ` +
      `disabled ${u.disabled.join(" ") || "none"}\n`);
  }
  io.stdout.write(`try: pam-mapi check alice --arg socket=${running.urls[0]}\n`);
  io.stdout.write("stop with Ctrl-C\n");

  const signals = io.signals ?? process;
  await new Promise<void>((resolve) => {
    const stop = () => {
      signals.removeListener("SIGINT", stop);
      signals.removeListener("SIGTERM", stop);
      resolve();
    };
    signals.on("SIGINT", stop);
    signals.on("SIGTERM", stop);
  });
  await running.close();
  io.stdout.write("emulator stopped\n");
  return EXIT.ok;
}

/** Why a user other than the owner could not reach `socketPath` (a directory on the way without o+x), or "". */
function unreachableDirectory(socketPath: string): string {
  for (let dir = path.dirname(socketPath); ; dir = path.dirname(dir)) {
    try {
      const mode = statSync(dir).mode & 0o777;
      if ((mode & 0o001) === 0) return `${dir} has mode ${mode.toString(8).padStart(4, "0")}; fix: chmod o+x ${dir}, or use another directory`;
    } catch {
      return "";
    }
    if (dir === path.dirname(dir)) return "";
  }
}
