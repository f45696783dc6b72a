#!/usr/bin/env node
// The `pam-mapi` command: runs the compiled host (npm run build:host builds build/host/).
// The Node version is checked here, in the one process, before anything else is loaded: a Node too old for the
// host gets a cause and a fix instead of a syntax error (the installed launcher only execs this file).
const MINIMUM_NODE_MAJOR = 18; // Debian 12 and Ubuntu 24.04 ship Node 18; keep in step with package.json engines

const major = Number(process.versions.node.split(".")[0]);
if (!(major >= MINIMUM_NODE_MAJOR)) {
  process.stderr.write(`pam-mapi: Node.js ${process.version} is too old; pam-mapi needs Node.js ${MINIMUM_NODE_MAJOR} or later\n` +
    `fix: apt install nodejs (Debian 12 and later), or set PAM_MAPI_NODE=/path/to/node (version ${MINIMUM_NODE_MAJOR} or later)\n`);
  process.exitCode = 5;
} else {
  import("../build/host/cli/main.js").then(({ main }) => main(process.argv.slice(2), {
    stdin: process.stdin,
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
