#!/usr/bin/env node
// The `pam-mapi` command: runs the compiled host (npm run build:host builds build/host/).
import { main } from "../build/host/cli/main.js";

process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signals: process,
});
