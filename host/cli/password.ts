// Reads the password as bytes (never a JavaScript string, which could not be wiped): from the terminal with
// echo off (raw mode), or the first line of stdin. Every intermediate buffer is zeroed.
import type { CliInput, CliOutput } from "./io.js";

export const MAX_PASSWORD_BYTES = 4096;

export class PasswordInterrupted extends Error {}

/** Appends bytes to a fixed buffer; `take` hands out an exact-length copy and wipes the buffer. */
class SecretBuffer {
  private bytes = new Uint8Array(MAX_PASSWORD_BYTES);
  private length = 0;
  overflow = false;
  push(byte: number) {
    if (this.length < this.bytes.length) this.bytes[this.length++] = byte;
    else this.overflow = true;
  }
  /** Removes the last UTF-8 character. */
  backspace() {
    while (this.length > 0) {
      const byte = this.bytes[--this.length];
      this.bytes[this.length] = 0;
      if ((byte & 0xc0) !== 0x80) break;
    }
  }
  clear() {
    this.bytes.fill(0);
    this.length = 0;
  }
  take(): Uint8Array {
    const out = this.bytes.slice(0, this.length);
    this.clear();
    return out;
  }
}

export function readPassword(stdin: CliInput, stderr: CliOutput, prompt: string, fromStdin: boolean): Promise<Uint8Array> {
  return fromStdin || !stdin.isTTY || !stdin.setRawMode ? readFirstLine(stdin) : readFromTerminal(stdin, stderr, prompt);
}

function readFirstLine(stdin: CliInput): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const secret = new SecretBuffer();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      stdin.removeListener("data", onData);
      stdin.removeListener("end", finish);
      stdin.removeListener("error", onError);
      stdin.pause();
      if (secret.overflow) {
        secret.clear();
        reject(new Error(`the password on stdin is longer than ${MAX_PASSWORD_BYTES} bytes`));
      } else {
        // Only the LF ends the line: a CR before it is part of the password, as pam_mapi.so receives it
        // from pamtester or saslauthd (the module strips nothing either).
        resolve(secret.take());
      }
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      for (let i = 0; i < bytes.length && !done; i++) {
        if (bytes[i] === 0x0a) {
          bytes.fill(0);
          return finish();
        }
        secret.push(bytes[i]);
      }
      bytes.fill(0);
    };
    const onError = (e: Error) => {
      secret.clear();
      done = true;
      reject(e);
    };
    stdin.on("data", onData);
    stdin.once("end", finish);
    stdin.once("error", onError);
    stdin.resume();
  });
}

function readFromTerminal(stdin: CliInput, stderr: CliOutput, prompt: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const secret = new SecretBuffer();
    stderr.write(prompt);
    stdin.setRawMode!(true);
    const finish = (error?: Error) => {
      stdin.removeListener("data", onData);
      stdin.setRawMode!(false);
      stdin.pause();
      stderr.write("\n");
      if (error) {
        secret.clear();
        reject(error);
      } else if (secret.overflow) {
        secret.clear();
        reject(new Error(`the password is longer than ${MAX_PASSWORD_BYTES} bytes`));
      } else {
        resolve(secret.take());
      }
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      try {
        for (const byte of bytes) {
          if (byte === 0x0d || byte === 0x0a || byte === 0x04) return finish(); // Enter, or Ctrl-D
          if (byte === 0x03) return finish(new PasswordInterrupted("interrupted")); // Ctrl-C
          if (byte === 0x7f || byte === 0x08) secret.backspace();
          else if (byte === 0x15) secret.clear(); // Ctrl-U
          else if (byte >= 0x20) secret.push(byte); // other control keys are ignored
        }
      } finally {
        bytes.fill(0);
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}
