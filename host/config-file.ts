// Finds and reads the INI configuration exactly as pam_mapi.so does: `config=PATH` among the module arguments
// (the last one wins), else the default path; a missing default file means "module arguments only"; a file is
// refused unless it is a regular file owned by root and not writable by group or others (it may hold secrets
// and it decides where passwords are sent).
import { constants, fstatSync, openSync, readSync, closeSync } from "node:fs";

export const DEFAULT_CONFIG_PATH = "/etc/security/pam_mapi.conf";
export const MAX_CONFIG_BYTES = 1024 * 1024;

export class ConfigFileError extends Error {
  constructor(readonly path: string, readonly cause_: string, readonly fix: string) {
    super(`${path}: ${cause_}`);
  }
}

/** The configuration path the module would use for these arguments; `override` is the CLI's --config. */
export function configPathFor(args: readonly string[], override?: string): { path: string; explicit: boolean } {
  const fromArgs = args.filter((a) => a.startsWith("config=")).map((a) => a.slice("config=".length)).pop();
  if (fromArgs !== undefined) return { path: fromArgs, explicit: true };
  if (override !== undefined) return { path: override, explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}

export function readConfigFile(path: string, explicit: boolean): Uint8Array {
  if (!path.startsWith("/")) {
    throw new ConfigFileError(path, "the configuration path is not absolute", "give config=/absolute/path");
  }
  let fd: number; // libuv opens with O_CLOEXEC
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !explicit) return new Uint8Array(0);
    if (code === "ENOENT") throw new ConfigFileError(path, "no such file", `create it, or drop config=/--config to use module arguments only`);
    if (code === "ELOOP") throw new ConfigFileError(path, "is a symbolic link", "point config= at the file itself");
    if (code === "EACCES") {
      throw new ConfigFileError(path, "cannot open: permission denied (EACCES)",
        "pam_mapi.so reads it as the user that runs the PAM service: make it readable (root-owned, mode 0644) or run as root");
    }
    throw new ConfigFileError(path, `cannot open: ${code ? `${(e as Error).message} (${code})` : (e as Error).message}`, "check the path and its permissions");
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ConfigFileError(path, "is not a regular file", "point config= at a file");
    if (stat.uid !== 0) {
      throw new ConfigFileError(path, `is owned by uid ${stat.uid}, not root; pam_mapi.so refuses it`, `chown root: ${path}`);
    }
    if ((stat.mode & 0o022) !== 0) {
      throw new ConfigFileError(path, `is writable by group or others (mode ${(stat.mode & 0o777).toString(8)}); pam_mapi.so refuses it`,
        `chmod go-w ${path}`);
    }
    if (stat.size > MAX_CONFIG_BYTES) {
      throw new ConfigFileError(path, `is larger than ${MAX_CONFIG_BYTES} bytes`, "this is not a pam_mapi configuration file");
    }
    const bytes = new Uint8Array(stat.size);
    let offset = 0;
    while (offset < bytes.length) {
      const n = readSync(fd, bytes, offset, bytes.length - offset, offset);
      if (n === 0) break;
      offset += n;
    }
    return bytes.subarray(0, offset);
  } finally {
    closeSync(fd);
  }
}

/** Section names in the order they appear ([NAME] lines). A listing only: the guest's parser is the authority
 * on what the file means; the `ini` package would split dotted names into nested sections. */
export function sectionNames(config: Uint8Array): string[] {
  const names: string[] = [];
  for (const line of Buffer.from(config).toString("utf8").split(/\r?\n/)) {
    const match = /^\s*\[([^\]]*)\]\s*(?:[;#].*)?$/.exec(line);
    if (match && !names.includes(match[1].trim())) names.push(match[1].trim());
  }
  return names;
}
