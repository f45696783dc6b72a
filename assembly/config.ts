// Effective settings for one PAM service: module arguments over the INI file's [SERVICE] section over its
// top-level keys over the defaults. Every wrong key or value is an error naming its place; nothing is ignored.
// The file's grammar is ini-grammar.ts, the keys and values config-keys.ts, the wording config-messages.ts.
//
// Module arguments are `key` or `key=value` taken verbatim: no trimming, quotes or comments (libpam has already
// split the line; brackets are its quoting).
import { Bytes } from "./bytes";
import { asciiLower, firstForbiddenChar } from "./chars";
import { ARGUMENT_KEYS, keyIndex, Layer, unknownKey } from "./config-keys";
import { codePointName, shown } from "./config-messages";
import { parseFile } from "./ini-grammar";
import { ConfigResult, Settings } from "./settings";

export { ConfigResult, DEFAULT_SERVER, Settings } from "./settings";
export const MAX_ARGUMENTS: i32 = 64;

// service, arguments and file. The second parse of the same inputs is the first one's result (results are never
// modified after parsing). The file's bytes are copied, so the comparison never depends on memory the host wrote.
let memoService = "";
let memoArgs: Array<string> | null = null;
let memoFile: Bytes = Bytes.empty();
let memoResult: ConfigResult | null = null;

function sameArgs(a: Array<string>, b: Array<string>): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

/** parseSettings, remembering the last inputs and result of this instance. */
export function settingsFor(service: string, args: Array<string>, file: Bytes): ConfigResult {
  const last = memoResult;
  if (last != null && memoService == service && sameArgs(memoArgs!, args) && memoFile.len == file.len &&
      memory.compare(memoFile.ptr, file.ptr, <usize>file.len) == 0) {
    return last;
  }
  const result = parseSettings(service, args, file);
  const copy = heap.alloc(<usize>max(file.len, 1));
  memory.copy(copy, file.ptr, <usize>file.len);
  memoService = service;
  memoArgs = args.slice(0);
  memoFile = new Bytes(copy, file.len);
  memoResult = result;
  return result;
}

export function parseSettings(service: string, args: Array<string>, file: Bytes): ConfigResult {
  const result = new ConfigResult();
  const top = new Layer();
  const sections = new Map<string, Layer>();
  const fileError = parseFile(file, top, sections);
  if (fileError.length > 0) {
    result.error = fileError;
    return result;
  }
  const argLayer = new Layer();
  const argError = parseArguments(args, argLayer);
  if (argError.length > 0) {
    result.error = argError;
    return result;
  }
  const settings = new Settings();
  top.apply(settings);
  const wanted = asciiLower(service);
  if (sections.has(wanted)) sections.get(wanted).apply(settings);
  argLayer.apply(settings);
  result.settings = settings;
  return result;
}

// ---- module arguments ----


function parseArguments(args: Array<string>, layer: Layer): string {
  if (args.length > MAX_ARGUMENTS) {
    return "module arguments: " + args.length.toString() + " given, at most " + MAX_ARGUMENTS.toString() + " are allowed";
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const why = checkArgument(arg, layer, i + 1);
    if (why.length > 0) return "module argument " + (i + 1).toString() + " '" + shown(arg) + "': " + why;
  }
  return "";
}

function checkArgument(arg: string, layer: Layer, position: i32): string {
  const bad = firstForbiddenChar(arg);
  if (bad >= 0) return "control character " + codePointName(<u32>bad);
  const eq = arg.indexOf("=");
  const name = eq < 0 ? arg : arg.substring(0, eq);
  if (name.length == 0) return "missing key before '='";
  const k = keyIndex(name);
  if (k < 0) return unknownKey(name, ARGUMENT_KEYS);
  return layer.assign(k, eq < 0, eq < 0 ? "" : arg.substring(eq + 1), position, "in argument");
}

// ---- the INI file ----
