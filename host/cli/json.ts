// --json: one JSON document on standard output, for scripts and monitoring. Field names are stable; the
// document never holds a password or a request or reply body.
import type { Settings } from "../guest-values.js";
import type { CliOutput } from "./io.js";

export const JSON_FORMAT_VERSION = 1;

export function settingsJson(settings: Settings) {
  return {
    servers: settings.servers,
    timeoutSeconds: settings.timeoutMs / 1000,
    cafile: settings.cafile || null,
    capath: settings.capath || null,
    trust: settings.cafile || settings.capath ? "cafile/capath" : "system store",
    /** service=: at least one of these features must be enabled for the user; [] = no feature check */
    service: settings.features,
    options: settings.options,
  };
}

export function writeJson(stream: CliOutput, document: Record<string, unknown>): void {
  stream.write(`${JSON.stringify({ format: JSON_FORMAT_VERSION, ...document }, null, 2)}\n`);
}
