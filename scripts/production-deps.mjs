#!/usr/bin/env node
// Prints the npm packages the installed `pam-mapi` needs, one directory a line relative to the checkout
// (node_modules/soap, node_modules/axios/node_modules/..., ...): package.json's dependencies and, recursively,
// theirs (optional and peer ones when present), each resolved the way Node resolves it at run time. scripts/install.sh
// copies these. (`npm ls --omit=dev` gives the same list in a plain checkout, but calls everything extraneous when
// node_modules is a symbolic link, as in a git worktree.)
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const root = process.cwd();
const found = new Set();

function resolveFrom(dir, name) {
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (d === root || d === path.dirname(d)) return undefined;
  }
}

function visit(dir) {
  const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  const optional = new Set([...Object.keys(manifest.optionalDependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}).filter((name) => manifest.peerDependenciesMeta?.[name]?.optional)]);
  for (const name of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies })) {
    const dep = resolveFrom(dir, name);
    if (!dep) {
      if (optional.has(name)) continue;
      process.stderr.write(`production-deps: ${name}, needed by ${path.relative(root, dir) || "package.json"}, is not installed\nfix: npm ci\n`);
      process.exit(1);
    }
    if (found.has(dep)) continue;
    found.add(dep);
    visit(dep);
  }
}

visit(root);
for (const dep of found) process.stdout.write(`${path.relative(root, dep)}\n`);
