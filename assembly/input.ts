// Checks on what the PAM application handed us, before anything is sent anywhere.
import { Bytes } from "./bytes";
import { isControl, utf8CodePoint, utf8SequenceLength } from "./utf8";

export const MAX_USER_BYTES = 256;
export const MAX_PASSWORD_BYTES = 1024;

/** Empty string if the user name is acceptable, otherwise why not (the name itself is never echoed). */
export function userProblem(user: Bytes): string {
  if (user.len == 0) return "empty user name";
  if (user.len > MAX_USER_BYTES) return "user name longer than " + MAX_USER_BYTES.toString() + " bytes";
  let i = 0;
  while (i < user.len) {
    const n = utf8SequenceLength(user, i);
    if (n == 0) return "user name is not valid UTF-8";
    if (isControl(utf8CodePoint(user, i, n))) return "user name contains a control character";
    i += n;
  }
  // SYSTEM is Kopano's internal account: never a PAM login, whatever the server would say. In six bytes only ASCII
  // can spell it in any case (no non-ASCII character of UTF-8 uppercases into it that short), so an ASCII
  // comparison is the whole check, without String#toUpperCase and its Unicode tables in every instance.
  if (user.len == 6 && isSystem(user)) return "the Kopano SYSTEM account cannot log in";
  return "";
}

/** Empty string if the password can be sent, otherwise why not. */
export function passwordProblem(password: Bytes): string {
  if (password.len == 0) return "empty password";
  if (password.len > MAX_PASSWORD_BYTES) return "password longer than " + MAX_PASSWORD_BYTES.toString() + " bytes";
  let i = 0;
  while (i < password.len) {
    const n = utf8SequenceLength(password, i);
    // Kopano compares UTF-8 strings; a Latin-1 or otherwise mangled password could never match, and decoding
    // it leniently would make different passwords look alike. Refuse it with a clear reason instead.
    if (n == 0) return "password is not valid UTF-8 (set the client to UTF-8)";
    // The server treats the password as a C string: a NUL would silently cut it short.
    if (n == 1 && password.at(i) == 0) return "password contains a NUL byte";
    i += n;
  }
  return "";
}

function isSystem(user: Bytes): bool {
  const word = "SYSTEM";
  for (let i = 0; i < 6; i++) {
    let c = <u32>user.at(i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c != <u32>word.charCodeAt(i)) return false;
  }
  return true;
}
