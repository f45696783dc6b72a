// What the documentation says about an installation agrees with what scripts/install.sh and the Debian package do
// (test/packaging.test.ts checks the installed result itself): one mode for /etc/security/pam_mapi.conf, the
// command in sbin, and man pages that name the documentation directory the way install.sh rewrites it.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./helpers/guest.js";

const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
const MAN_PAGES = ["man/pam_mapi.8", "man/pam_mapi.conf.5", "man/pam-mapi.1"];

describe("the mode of /etc/security/pam_mapi.conf: root:root 0644 everywhere", () => {
  it("is what install.sh and the package's postinst create", () => {
    expect(read("scripts/install.sh")).toMatch(/^ +install -m 0644 config\/pam_mapi\.conf\.example "\$config"$/m);
    expect(read("scripts/install.sh")).toContain('chown root:root "$config"');
    expect(read("debian/postinst")).toMatch(/^ +install -m 0644 -o root -g root \S+\/examples\/pam_mapi\.conf "\$config"$/m);
  });

  it.each([
    ["README.md", ["; /etc/security/pam_mapi.conf (root:root 0644)", "| `/etc/security/pam_mapi.conf` | the commented example, `root:root 0644`"]],
    ["docs/security.md", ["`/etc/security/pam_mapi.conf` is **root:root 0644**"]],
    ["man/pam_mapi.conf.5", [".Li root:root 0644 :"]],
    ["config/pam_mapi.conf.example", ["; root:root 0644: it holds no secret"]],
    ["docs/recipes/smtp/pam_mapi.conf", ["; /etc/security/pam_mapi.conf (root:root 0644"]],
  ])("is what %s says", (file, statements) => {
    const text = read(file).replace(/\n/g, " ");
    for (const statement of statements) expect(text).toContain(statement);
  });

  it.each(["README.md", "docs/security.md", "man/pam_mapi.conf.5", "man/pam_mapi.8", "man/pam-mapi.1",
    "config/pam_mapi.conf.example", "docs/recipes/smtp/pam_mapi.conf", "scripts/install.sh", "debian/postinst"])(
    "%s gives the file no other mode", (file) => {
      for (const line of read(file).split("\n").filter((l) => l.includes("pam_mapi.conf"))) {
        expect(line).not.toMatch(/\b0(600|640|660|400|440)\b|www-data 0|chmod 0(?!644)/);
      }
    });
});

describe("pam-mapi in sbin", () => {
  it("is where install.sh puts the launcher, and the README says so", () => {
    expect(read("scripts/install.sh")).toMatch(/^launcher=\$DESTDIR\$PREFIX\/sbin\/pam-mapi$/m);
    const readme = read("README.md");
    expect(readme).toContain("| `$PREFIX/sbin/pam-mapi`, `$PREFIX/lib/pam-mapi/` |");
    expect(readme).toContain("the command in `/usr/sbin`");
    // The command is never named under a bin/ directory (bin/pam-mapi.mjs is the checkout's own entry point).
    for (const file of ["README.md", "docs/security.md", "docs/node.md", ...MAN_PAGES, "scripts/build-deb.sh"]) {
      expect(read(file), file).not.toMatch(/(^|[^s.])bin\/pam-mapi(?!\.mjs)/m);
    }
  });
});

describe("the documentation directory the man pages name", () => {
  it("is always the Debian package's, which install.sh rewrites to DOCDIR ($PREFIX/share/doc/pam-mapi)", () => {
    expect(read("scripts/install.sh")).toContain('sed "s|/usr/share/doc/libpam-mapi|$DOCDIR|g" "$page"');
    expect(read("scripts/install.sh")).toContain("DOCDIR=${DOCDIR:-$PREFIX/share/doc/pam-mapi}");
    expect(read("scripts/build-deb.sh")).toContain("DOCDIR=/usr/share/doc/$package");
    const named = MAN_PAGES.flatMap((page) => [...read(page).matchAll(/\S*share\/doc\S*/g)].map((m) => m[0]));
    expect(named.length).toBeGreaterThan(0);
    for (const p of named) expect(p).toMatch(/^\/usr\/share\/doc\/libpam-mapi\//);
  });
});
