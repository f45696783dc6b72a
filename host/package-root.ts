// The package root (where package.json and build/ live), found from this file's own location so the host works
// from build/host/ as well as from the sources, whatever the current directory.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === "pam-mapi") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("pam-mapi: cannot find the package root (package.json) above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const packageRoot = findPackageRoot();
export const packageVersion: string = JSON.parse(readFileSync(path.join(packageRoot, "package.json"), "utf8")).version;
