// Small formatting helpers for the CLI's report.
import type { Settings } from "../guest-values.js";

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

export function optionNames(settings: Settings): string {
  const o = settings.options;
  const names = [
    o.tryFirstPass && "try_first_pass", o.useFirstPass && "use_first_pass", o.ignoreUnavailable && "ignore_unavailable",
    o.quiet && "quiet", o.debug && "debug", o.useAuthtok && "use_authtok",
  ].filter(Boolean);
  return names.length ? names.join(" ") : "(none)";
}

export function settingsLines(settings: Settings, indent = "  "): string[] {
  return [
    `${indent}socket=   ${settings.servers.join(",")}`,
    ...settings.servers.map((s, i) => `${indent}  server ${i + 1}: ${s}`),
    `${indent}service=  ${settings.features.length ? `${settings.features.join("|")} (the user needs at least one of these Kopano features enabled)` : "(none: no feature check)"}`,
    `${indent}timeout=  ${settings.timeoutMs / 1000} s per server (connect included)`,
    `${indent}cafile=   ${settings.cafile || "(none)"}`,
    `${indent}capath=   ${settings.capath || "(none)"}`,
    `${indent}trust:    ${settings.cafile || settings.capath ? "cafile/capath only" : "the system store (/etc/ssl/certs/ca-certificates.crt)"}`,
    `${indent}options:  ${optionNames(settings)}`,
  ];
}
