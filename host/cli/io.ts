// What the CLI touches in the outside world, injectable so tests can drive main() directly.
import type { EventEmitter } from "node:events";

export interface CliInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}
export interface CliOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}
export interface CliIo {
  stdin: CliInput;
  stdout: CliOutput;
  stderr: CliOutput;
  /** where SIGINT/SIGTERM arrive (`pam-mapi emulate`); process by default */
  signals?: EventEmitter;
  /** the environment (NO_COLOR, TERM); process.env by default */
  env?: NodeJS.ProcessEnv;
}
