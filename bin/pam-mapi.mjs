#!/usr/bin/env node
// The `pam-mapi` command: runs the compiled host (npm run build:host builds build/host/).
// The Node version is checked here, in the one process, before anything else is loaded: a Node too old for the
// host gets a cause and a fix instead of a syntax error (the installed launcher only execs this file).
// The oldest Node it runs on: Debian 12's nodejs (18.19 and its later updates) and Ubuntu 24.04's (18.19.1);
// test/node18.test.ts runs the command under Debian's own. Keep in step with package.json "engines" and the
// .deb's Recommends (scripts/build-deb.sh).
const MINIMUM = [18, 19];

const [major, minor] = process.versions.node.split(".").map(Number);
if (!(major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]))) {
  process.stderr.write(`pam-mapi: Node.js ${process.version} is too old; pam-mapi needs Node.js ${MINIMUM.join(".")} or later\n` +
    `fix: apt install nodejs (Debian 12 or Ubuntu 24.04 and later; apt upgrade nodejs for an older 18.x), ` +
    `or set PAM_MAPI_NODE=/path/to/node (${MINIMUM.join(".")} or later)\n`);
  process.exitCode = 5;
} else {
  import("../build/host/cli/main.js").then(({ main }) => main(process.argv.slice(2), {
    // A getter: process.stdin builds a stream on first use, which only `check` and `passwd` need.
    get stdin() { return process.stdin; },
    stdout: process.stdout,
    stderr: process.stderr,
    signals: process,
  }).then((code) => {
    process.exitCode = code;
  }), (e) => {
    process.stderr.write(`pam-mapi: cannot load the command: ${e && e.stack ? e.stack : e}\n` +
      "fix: build it (npm run build), or reinstall the package\n");
    process.exitCode = 5;
  });
}
