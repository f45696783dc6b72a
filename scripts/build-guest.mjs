#!/usr/bin/env node
// Builds the guest: AssemblyScript -> build/pam_mapi.wasm, then proves it against the WIT world with jco
// (embed + new fail on any mismatch) and transpiles the component for the Node host into build/jco/.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const run = (what, cmd, args) => {
  process.stdout.write(`build-guest: ${what}\n`);
  execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
};

run("compiling assembly/ with asc", bin("asc"), ["assembly/index.ts", "--target", "release"]);
run("merging data segments", process.execPath, ["scripts/merge-data-segments.mjs", "build/pam_mapi.wasm"]);

// The final module may import nothing but the WIT functions: no env.abort, no WASI.
const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(path.join(root, "build/pam_mapi.wasm"))));
const foreign = imports.filter((i) => i.module !== "$root" || !["post", "log"].includes(i.name));
if (foreign.length) {
  console.error(`build-guest: unexpected imports ${JSON.stringify(foreign)}; only $root.post and $root.log are allowed`);
  process.exit(1);
}

run("embedding the WIT world", bin("jco"), ["embed", "--wit", "wit/pam-mapi.wit", "-n", "authn", "build/pam_mapi.wasm", "-o", "build/pam_mapi.embedded.wasm"]);
run("building the component", bin("jco"), ["new", "build/pam_mapi.embedded.wasm", "-o", "build/pam_mapi.component.wasm"]);
run("transpiling for Node", bin("jco"), ["transpile", "build/pam_mapi.component.wasm", "-o", "build/jco", "--instantiation", "sync", "--name", "pam_mapi", "--quiet"]);
process.stdout.write(`build-guest: build/pam_mapi.wasm ${readFileSync(path.join(root, "build/pam_mapi.wasm")).length} bytes\n`);
