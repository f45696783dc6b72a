// Compiles test/helpers/config-probe.guest.ts (assembly/config.ts behind a tiny JSON export) into a temp dir, so
// tests can see the parsed `features` too, which the WIT `settings` record keeps inside the guest.
import { compileProbe } from "./probe.js";

export interface ProbedSettings {
  ok: true;
  servers: string[];
  features: string[];
  timeoutMs: number;
  cafile: string;
  capath: string;
  tryFirstPass: boolean;
  useFirstPass: boolean;
  ignoreUnavailable: boolean;
  quiet: boolean;
  debug: boolean;
}
export type Probed = ProbedSettings | { ok: false; error: string };
export type ConfigProbe = (service: string, args: string[], file: string | Uint8Array) => Probed;

export function compileConfigProbe(): ConfigProbe {
  const module = compileProbe("test/helpers/config-probe.guest.ts");
  return (service, args, file) => run(module, service, args, file);
}

interface ProbeExports {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  outLen(): number;
  run(sp: number, sl: number, ap: number, al: number, fp: number, fl: number): number;
}

function run(module: WebAssembly.Module, service: string, args: string[], file: string | Uint8Array): Probed {
  if (args.some((a) => a.includes("\0"))) throw new Error("the probe joins arguments with NUL");
  const e = new WebAssembly.Instance(module, {}).exports as unknown as ProbeExports; // fresh, like each PAM call
  const enc = new TextEncoder();
  const put = (bytes: Uint8Array): [number, number] => {
    const p = e.alloc(bytes.length || 1);
    new Uint8Array(e.memory.buffer, p, bytes.length).set(bytes);
    return [p, bytes.length];
  };
  const [sp, sl] = put(enc.encode(service));
  const [ap, al] = put(enc.encode(args.join("\0")));
  const [fp, fl] = put(typeof file === "string" ? enc.encode(file) : file);
  const r = e.run(sp, sl, ap, al, fp, fl);
  return JSON.parse(new TextDecoder().decode(new Uint8Array(e.memory.buffer, r, e.outLen())));
}
