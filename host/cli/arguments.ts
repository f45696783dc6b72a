// Command-line parsing with Node's util.parseArgs; its errors become usage errors (exit 2).
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

export function parseCommandLine<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** --arg values are module arguments: KEY=VALUE or a bare flag such as try_first_pass. */
export function moduleArguments(values: string[] | undefined): string[] {
  const args = values ?? [];
  for (const a of args) {
    if (a === "" || /[\u0000-\u001f]/.test(a)) throw new UsageError(`--arg ${JSON.stringify(a)}: empty or with control characters`);
  }
  return args;
}
