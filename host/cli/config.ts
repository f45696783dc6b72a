// `pam-mapi config`: validates the configuration through the guest's own parser and prints the effective
// settings for every PAM service the file distinguishes (top level and each [section]).
import { runConfigure } from "../authenticate.js";
import { ConfigFileError, configPathFor, readConfigFile, sectionNames } from "../config-file.js";
import { moduleArguments, parseCommandLine, UsageError } from "./arguments.js";
import { advise } from "./advice.js";
import { EXIT } from "./exit-codes.js";
import { settingsLines } from "./format.js";
import { paintFor } from "./colour.js";
import { settingsJson, writeJson } from "./json.js";
import type { CliIo } from "./io.js";
import { sectionWarnings } from "./section-warnings.js";

export const CONFIG_HELP = `Usage: pam-mapi config [options]

Validates the pam_mapi configuration (module arguments over the INI file) with the same parser as
pam_mapi.so, and prints the effective settings per PAM service: the top level and every [section].

Options:
  --config PATH       configuration file (default: /etc/security/pam_mapi.conf)
  --service NAME      show only this PAM service (repeatable)
  --arg KEY=VALUE     a module argument as on the /etc/pam.d line (repeatable)
  --pam-dir DIR       where the PAM service files are, to check that every [section] names one
                      (default: /etc/pam.d)
  --json              print one JSON document (settings or error per PAM service) instead of the report
  --help              this text

A [section] that names no file in the PAM directory is a warning (its keys apply to no service; a near miss
such as [smpt] for smtp gets "did you mean [smtp]?"); warnings do not change the exit code.

Exit codes: 0 valid, 2 usage error, 3 configuration error, 5 internal error.`;

export async function config(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    config: { type: "string" },
    service: { type: "string", multiple: true },
    arg: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
    "pam-dir": { type: "string", default: "/etc/pam.d" },
    help: { type: "boolean", default: false },
  });
  if (values.help) {
    io.stdout.write(`${CONFIG_HELP}\n`);
    return EXIT.ok;
  }
  const json = values.json!;
  const out = (line: string) => { if (!json) io.stdout.write(`${line}\n`); };
  const paint = paintFor(io.stdout, io.env ?? process.env);
  if (positionals.length) throw new UsageError(`config: unexpected argument ${JSON.stringify(positionals[0])}`);
  const args = moduleArguments(values.arg);
  const where = configPathFor(args, values.config);
  let bytes: Uint8Array;
  try {
    bytes = readConfigFile(where.path, where.explicit);
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    if (json) {
      writeJson(io.stdout, { command: "config", configuration: { path: where.path, present: false }, arguments: args,
        services: [], valid: false, cause: `configuration file ${e.message}`, fix: e.fix, exitCode: EXIT.config });
    } else {
      io.stderr.write(`pam-mapi: configuration file ${e.message}\nfix: ${e.fix}\n`);
    }
    return EXIT.config;
  }
  out(bytes.length ? `configuration: ${where.path}` : `configuration: ${where.path} absent; module arguments only`);
  if (args.length) out(`module arguments: ${args.join(" ")}`);

  const sections = sectionNames(bytes);
  const warnings = sectionWarnings(sections, values["pam-dir"]!);
  for (const w of warnings) out(`${paint.bad("warning:")} ${w.message}`);
  // The top level is what a service without a section gets; ask for it under a name no section uses.
  const topLevelName = ["other", "pam-mapi-top-level"].find((n) => !sections.includes(n))!;
  const services: { name: string; title: string; section: string | null }[] = values.service?.length
    ? values.service.map((name) => ({ name, section: sections.includes(name) ? name : null,
        title: `PAM service ${name}${sections.includes(name) ? ` ([${name}] section)` : " (top level)"}` }))
    : [{ name: topLevelName, section: null, title: "top level (every PAM service without a section)" },
       ...sections.map((name) => ({ name, section: name, title: `[${name}] (PAM service ${name})` }))];

  let exitCode: number = EXIT.ok;
  const results: Record<string, unknown>[] = [];
  for (const service of services) {
    out("");
    out(service.title);
    const outcome = await runConfigure({ service: service.name, args, config: bytes });
    for (const line of outcome.logs) out(`  guest ${line.level}: ${line.message}`);
    const entry = { service: values.service?.length || service.section ? service.name : null, section: service.section, log: outcome.logs };
    if (outcome.ok) {
      for (const line of settingsLines(outcome.settings)) out(line);
      results.push({ ...entry, valid: true, settings: settingsJson(outcome.settings), cause: null, fix: null });
      continue;
    }
    const advice = advise({ verdict: { code: "service-err", reason: outcome.message, user: "" },
      failure: { stage: outcome.stage, message: outcome.message }, posts: [], logs: outcome.logs }, "", where.path);
    out(`  ${paint.bad("error:")} ${advice.cause}`);
    out(`  fix:   ${advice.fix}`);
    results.push({ ...entry, valid: false, settings: null, cause: advice.cause, fix: advice.fix ?? null });
    if (exitCode === EXIT.ok || advice.exitCode === EXIT.internal) exitCode = advice.exitCode;
  }
  if (json) {
    writeJson(io.stdout, { command: "config", configuration: { path: where.path, present: bytes.length > 0 }, arguments: args,
      services: results, warnings, valid: exitCode === EXIT.ok, exitCode });
    return exitCode;
  }
  out("");
  const warned = warnings.length ? ` (${warnings.length} warning${warnings.length > 1 ? "s" : ""} above)` : "";
  out(exitCode === EXIT.ok ? paint.good(`configuration is valid${warned}`) : paint.bad(`configuration has errors${warned}`));
  return exitCode;
}
