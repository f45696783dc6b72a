// `pam-mapi check USER`: one real authentication through the same guest pam_mapi.so runs, with debug forced
// on, printing what happened per server, the PAM verdict, its cause and the fix.
import { prestartTransport, runAuthentication, runConfigure } from "../authenticate.js";
import { ConfigFileError, configPathFor, readConfigFile, sectionNames } from "../config-file.js";
import { editDistance } from "./section-warnings.js";
import { advise, adviseOnTransport, type Advice } from "./advice.js";
import { paintFor, paintResult } from "./colour.js";
import { settingsJson, writeJson } from "./json.js";
import { moduleArguments, parseCommandLine, UsageError } from "./arguments.js";
import { EXIT } from "./exit-codes.js";
import { ms, settingsLines } from "./format.js";
import type { CliIo } from "./io.js";
import { PasswordInterrupted, readPassword } from "./password.js";
import type { PostRecord } from "../transport/types.js";
import { PLAIN_HTTP } from "../transport/cause.js";
import type { LogLine } from "../authenticate.js";
import type { Verdict } from "../guest-values.js";

export const CHECK_HELP = `Usage: pam-mapi check USER [options]

Checks USER's password against the configured Kopano/Zarafa server(s) with the very same logic as
pam_mapi.so, and explains the result. The password is read from the terminal without echo, or from the
first line of stdin with --password-stdin (or when stdin is not a terminal).

Options:
  --service NAME      PAM service to test; selects the [NAME] section of the file (default: login)
  --config PATH       configuration file (default: /etc/security/pam_mapi.conf; a config= module
                      argument takes precedence, as in pam_mapi.so)
  --arg KEY=VALUE     a module argument as on the /etc/pam.d line (repeatable), e.g. --arg socket=https://mail:237/
  --password-stdin    read the password from stdin
  --rhost HOST        the remote host to report to the guest (PAM_RHOST)
  --json              print one JSON document (settings, each server, verdict, cause, fix) instead of the report
  --verbose           show progress while waiting on a slow server even when stderr is not a terminal
  --help              this text

Certificates are always verified. Without cafile=/capath= this command trusts the system store
(/etc/ssl/certs/ca-certificates.crt), exactly as pam_mapi.so does.
No proxy variable (http_proxy, HTTPS_PROXY, ...) changes where this command connects.
Progress while waiting on a slow server goes to stderr when it is a terminal (or with --verbose); colour
only when stdout is a terminal and NO_COLOR is unset.

Exit codes: 0 accepted, 1 denied, 2 usage error, 3 configuration error, 4 servers unavailable, 5 internal error.`;

export async function check(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    service: { type: "string", default: "login" },
    config: { type: "string" },
    arg: { type: "string", multiple: true },
    "password-stdin": { type: "boolean", default: false },
    rhost: { type: "string", default: "" },
    json: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) {
    io.stdout.write(`${CHECK_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "check needs a USER" : `check takes one USER, got ${positionals.length}`);
  prestartTransport(); // start-up speed: the transport's worker boots while the configuration and the guest load
  const user = positionals[0];
  const service = values.service!;
  if (service === "") throw new UsageError("--service needs a non-empty name");
  // Debug is forced on so the guest explains itself (er codes, feature lists); never a password.
  // The settings shown are the configured ones (configure runs without the forced debug).
  const configuredArgs = moduleArguments(values.arg);
  const args = [...configuredArgs, "debug"];
  const json = values.json!;
  // In --json mode the report lines are not printed; the same facts go into one document at the end.
  const out = (line: string) => { if (!json) io.stdout.write(`${line}\n`); };
  const err = (line: string) => io.stderr.write(`${line}\n`);
  const paint = paintFor(io.stdout, io.env ?? process.env);
  const report: CheckReport = { user, service, configuration: { path: "", present: false }, settings: null, servers: [], log: [], warnings: [] };
  const finish = (advice: Advice, verdict?: Verdict): number => {
    if (json) {
      writeJson(io.stdout, {
        command: "check", ...report,
        result: { pam: advice.pam, code: verdict?.code ?? null, reason: verdict?.reason ?? null, user: verdict?.user || null },
        cause: advice.cause, fix: advice.fix ?? null, exitCode: advice.exitCode,
      });
      return advice.exitCode;
    }
    const colour = paintResult(paint, advice.pam);
    out(`result: ${colour(advice.pam)}${verdict ? ` (${verdict.code})${verdict.reason ? ` — ${verdict.reason}` : ""}` : ""}`);
    if (verdict?.code === "success" && verdict.user) out(`user:   ${verdict.user}`);
    out(`cause:  ${advice.cause}`);
    if (advice.fix) out(`fix:    ${advice.fix}`);
    return advice.exitCode;
  };
  const guestLog = (line: LogLine) => {
    report.log.push(line);
    out(`  guest ${line.level}: ${line.message}`);
  };

  const where = configPathFor(args, values.config);
  report.configuration.path = where.path;
  let config: Uint8Array;
  try {
    config = readConfigFile(where.path, where.explicit);
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    const advice = { pam: "PAM_SERVICE_ERR", cause: `configuration file ${e.message}`, fix: e.fix, exitCode: EXIT.config };
    if (json) return finish(advice);
    err(`pam-mapi: ${advice.cause}`);
    err(`fix: ${advice.fix}`);
    return EXIT.config;
  }
  report.configuration.present = config.length > 0;
  out(`pam-mapi check ${user} (PAM service ${service}; configuration ${config.length ? where.path : `${where.path} absent, module arguments only`})`);
  const near = nearMissSection(sectionNames(config), service);
  if (near) {
    report.warnings.push(`no [${service}] section, but [${near}] is a near miss: a typo? ${service} gets the top-level settings`);
    out(`warning: ${report.warnings[report.warnings.length - 1]}`);
  }

  // Pin and show the servers before the password is read, as pam_mapi.so does.
  const configured = await runConfigure({ service, args: configuredArgs, config });
  if (!configured.ok) {
    const advice = advise({ verdict: { code: "service-err", reason: configured.message, user: "" },
      failure: { stage: configured.stage, message: configured.message }, posts: [], logs: configured.logs }, user, where.path);
    for (const line of configured.logs) guestLog(line);
    return finish(advice);
  }
  report.settings = settingsJson(configured.settings);
  out("effective settings:");
  for (const line of settingsLines(configured.settings)) out(line);

  let password: Uint8Array;
  try {
    password = await readPassword(io.stdin, io.stderr, `Password for ${user}: `, values["password-stdin"]!);
  } catch (e) {
    if (e instanceof PasswordInterrupted) return EXIT.interrupted;
    err(`pam-mapi: cannot read the password: ${(e as Error).message}`);
    err("fix: type it at the prompt, or pipe one line to --password-stdin");
    return EXIT.usage;
  }

  const showProgress = Boolean(io.stderr.isTTY) || values.verbose!;
  out("authentication:");
  const outcome = await runAuthentication({ service, user, password, args, config, rhost: values.rhost! }, {
    onLog: guestLog,
    onPost: (record) => {
      report.servers.push(record);
      out(describePost(record));
    },
    onWaiting: showProgress
      ? (w) => err(`pam-mapi: still waiting for server ${w.server + 1} (${w.url}) after ${ms(w.elapsedMs)}; deadline in ${ms(w.remainingMs)}`)
      : undefined,
  });
  if (outcome.posts.length === 0) out("  no server was contacted");
  return finish(advise(outcome, user, where.path), outcome.verdict);
}

interface CheckReport {
  user: string;
  service: string;
  configuration: { path: string; present: boolean };
  settings: ReturnType<typeof settingsJson> | null;
  servers: PostRecord[];
  log: LogLine[];
  warnings: string[];
}

/** A section within 2 edits of `service` when none matches it (sections match services ignoring ASCII case). */
function nearMissSection(sections: string[], service: string): string | undefined {
  const wanted = service.toLowerCase();
  if (sections.some((s) => s.toLowerCase() === wanted)) return undefined;
  return sections.find((s) => editDistance(s.toLowerCase(), wanted) <= 2);
}

function describePost(p: PostRecord): string {
  const head = `  server ${p.server + 1} ${p.url || "(none)"}:`;
  const connect = p.reusedConnection ? "reused connection" : `connect ${ms(p.connectMs)}`;
  const tls = p.tlsProtocol ? `, ${p.tlsProtocol}` : "";
  if (!p.error) {
    return `${head} HTTP ${p.status}, ${connect}${tls}, ${p.requestBytes} bytes sent, ${p.replyBytes} received, ${ms(p.totalMs)} total`;
  }
  const status = p.status ? ` (HTTP ${p.status})` : "";
  // The general meaning of the error kind, unless the precise cause says otherwise (a TLS error that is really a
  // plain-HTTP port is not about certificates).
  const means = p.detail === PLAIN_HTTP ? "https:// met a server that answered in plain HTTP" : adviseOnTransport(p.error).cause;
  return `${head} ${p.error}${status} after ${ms(p.totalMs)}, ${connect}${tls}: ${p.detail ?? ""}\n    means: ${means}`;
}

