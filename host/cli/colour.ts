// Colour for the human-readable report, only where a person reads it: standard output is a terminal, NO_COLOR
// (no-color.org) is unset or empty, and TERM is not "dumb". Pipes, files and --json never get escape codes.
import type { CliOutput } from "./io.js";

export interface Paint {
  good(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
}

const sgr = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
const plain = (text: string) => text;

export function wantsColour(stream: CliOutput, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== "dumb";
}

export function paintFor(stream: CliOutput, env: NodeJS.ProcessEnv): Paint {
  return wantsColour(stream, env)
    ? { good: sgr(32), bad: sgr(31), warn: sgr(33) }
    : { good: plain, bad: plain, warn: plain };
}

/** The colour of a PAM result name: success green, a denial red, anything else (unavailable, errors) yellow. */
export function paintResult(paint: Paint, pam: string): (text: string) => string {
  if (pam === "PAM_SUCCESS") return paint.good;
  if (pam === "PAM_AUTH_ERR" || pam === "PAM_PERM_DENIED") return paint.bad;
  return paint.warn;
}
