// Loads the jco-transpiled guest (build/jco) with test-supplied imports. Each call of `loadGuest` is a fresh
// instance, exactly as each PAM call gets one. Run `npm run build:guest` first (npm test does).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const jcoDir = path.join(repoRoot, "build/jco");

export type Level = "error" | "warning" | "notice" | "info" | "debug";
export type TransportError =
  | "no-such-server" | "refused" | "resolve" | "timeout" | "tls" | "http-status" | "too-large" | "closed"
  | "malformed" | "internal";
export type Code = "success" | "auth-err" | "perm-denied" | "authinfo-unavail" | "ignore" | "service-err";
export interface Reply { status: number; body: Uint8Array }
export interface Settings {
  servers: string[];
  timeoutMs: number;
  cafile: string;
  capath: string;
  options: { tryFirstPass?: boolean; useFirstPass?: boolean; ignoreUnavailable?: boolean; quiet?: boolean; debug?: boolean };
}
export interface Verdict { code: Code; reason: string; user: string }
export interface GuestImports {
  /** Return a reply, or `{ tag: "err", val: TransportError }`. */
  post?: (server: number, body: Uint8Array) => Reply | { tag: "err"; val: TransportError };
  log?: (level: Level, message: string) => void;
}
export interface Guest {
  configure(service: string, args: string[], config: Uint8Array): Settings;
  authenticate(service: string, user: string, password: Uint8Array, args: string[], config: Uint8Array, rhost: string): Verdict;
}

const modules = new Map<string, WebAssembly.Module>();
function coreModule(name: string): WebAssembly.Module {
  let m = modules.get(name);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(path.join(jcoDir, name)));
    modules.set(name, m);
  }
  return m;
}

let instantiateFn: ((get: (p: string) => WebAssembly.Module, imports: unknown) => Guest) | undefined;

export async function loadGuest(imports: GuestImports = {}): Promise<Guest> {
  if (!instantiateFn) {
    const mod = await import(path.join(jcoDir, "pam_mapi.js"));
    instantiateFn = mod.instantiate;
  }
  const post = imports.post ?? (() => ({ tag: "err", val: "refused" } as const));
  const log = imports.log ?? (() => {});
  return instantiateFn!(coreModule, {
    post: { default: post },
    log: { default: log },
  });
}

/** `configure` throws a ComponentError for the err variant; this returns it as a value. */
export function tryConfigure(g: Guest, service: string, args: string[], config: string | Uint8Array):
  { ok: true; settings: Settings } | { ok: false; error: string } {
  const bytes = typeof config === "string" ? new TextEncoder().encode(config) : config;
  try {
    return { ok: true, settings: g.configure(service, args, bytes) };
  } catch (e: any) {
    if (e && typeof e === "object" && "payload" in e) return { ok: false, error: String(e.payload) };
    throw e;
  }
}
