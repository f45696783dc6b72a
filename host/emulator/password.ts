// How the server turns the szPassword it received into the string it checks (kopano-soap.md §4.1, §4.4).

const cp1252 = new TextDecoder('windows-1252');
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * A client without CAP_UNICODE is, on ZCP and Kopano <= 8.7.16, assumed to send Windows-1252: the server converts
 * the bytes it got to UTF-8, so UTF-8 input is double-encoded (§4.1).
 */
export function reinterpretAsWindows1252(value: string): string {
  return cp1252.decode(Buffer.from(value, 'utf8'));
}

/**
 * Passwords beginning with "{1}:" (Windows-1252) or "{2}:" (UTF-8) are base64 + XOR 0xA5 obfuscated and are
 * decoded before the check (KC common/stringutil.cpp, §4.4). Returns null when the payload cannot be decoded.
 */
export function deobfuscatePassword(password: string): string | null {
  const scheme = password.slice(0, 4);
  if (scheme !== '{1}:' && scheme !== '{2}:') return password;
  const bytes = Buffer.from(password.slice(4), 'base64').map((b) => b ^ 0xa5);
  if (scheme === '{1}:') return cp1252.decode(bytes);
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return null;
  }
}

/** The inverse, as a client would send it (used by tests and the demo). */
export function obfuscatePassword(password: string, scheme: '{1}:' | '{2}:' = '{2}:'): string {
  const raw = scheme === '{2}:' ? Buffer.from(password, 'utf8') : Buffer.from(password, 'latin1');
  return scheme + Buffer.from(raw.map((b) => b ^ 0xa5)).toString('base64');
}
