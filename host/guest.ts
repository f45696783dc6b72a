// Loads the jco-transpiled guest (build/jco/pam_mapi.js). The core modules are compiled once per process;
// every `newGuest` is a fresh instance, as every PAM call gets one, and `wipe` zeroes all of its memory.
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "./package-root.js";
import type { Level } from "./guest-values.js";

export type TransportErrorName =
  | "no-such-server" | "refused" | "resolve" | "timeout" | "tls" | "http-status" | "too-large" | "closed"
  | "malformed" | "internal";
export interface Reply { status: number; body: Uint8Array }
export interface GuestImports {
  /** The result<reply, transport-error> as jco expects it; throwing would trap the guest. */
  post(server: number, body: Uint8Array): { tag: "ok"; val: Reply } | { tag: "err"; val: TransportErrorName };
  log(level: Level, message: string): void;
}
/** The guest's exports exactly as jco lifts them: not yet checked (see guest-values.ts). */
export interface RawGuest {
  configure(service: string, args: string[], config: Uint8Array): unknown;
  authenticate(service: string, user: string, password: Uint8Array, args: string[], config: Uint8Array, rhost: string): unknown;
  chauthtok(service: string, phase: "prelim" | "update", user: string, oldPassword: Uint8Array, newPassword: Uint8Array,
    args: string[], config: Uint8Array, rhost: string): unknown;
}
export interface GuestInstance {
  exports: RawGuest;
  /** Zero every byte of the instance's linear memories (the password was in there). */
  wipe(): void;
}

type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: { post: { default: GuestImports["post"] }; log: { default: GuestImports["log"] } },
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance,
) => RawGuest;

export const jcoDir = path.join(packageRoot, "build", "jco");
const compiled = new Map<string, WebAssembly.Module>();
let instantiate: Instantiate | undefined;

function coreModule(name: string): WebAssembly.Module {
  let module = compiled.get(name);
  if (!module) {
    if (name !== path.basename(name)) throw new Error(`unexpected core module name ${name}`);
    module = new WebAssembly.Module(readFileSync(path.join(jcoDir, name)));
    compiled.set(name, module);
  }
  return module;
}

/** Imports build/jco/pam_mapi.js once; call before `newGuest`. */
export async function loadGuestModule(): Promise<void> {
  if (instantiate) return;
  const file = path.join(jcoDir, "pam_mapi.js");
  let mod: { instantiate: Instantiate };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    throw new Error(`cannot load the guest from ${file} (run \`npm run build:guest\`): ${(e as Error).message}`);
  }
  instantiate = mod.instantiate;
}

export function newGuest(imports: GuestImports): GuestInstance {
  if (!instantiate) throw new Error("loadGuestModule() has not been awaited");
  const instances: WebAssembly.Instance[] = [];
  const exports = instantiate(coreModule, { post: { default: imports.post }, log: { default: imports.log } },
    (module, coreImports) => {
      const instance = new WebAssembly.Instance(module, coreImports);
      instances.push(instance);
      return instance;
    });
  return {
    exports,
    wipe() {
      for (const instance of instances) {
        for (const value of Object.values(instance.exports)) {
          if (value instanceof WebAssembly.Memory) new Uint8Array(value.buffer).fill(0);
        }
      }
    },
  };
}
