// What `pam-mapi` says about a configuration error from the guest: the place as PATH:LINE (as pam_mapi.so logs
// it, native/pam_entry.c), and a fix that fits the error.

const LINE_PREFIX = /^configuration file line (\d+): /;

/** "configuration file line N: message" -> "PATH:N: message"; other messages unchanged. */
export function locateConfigError(message: string, path: string): string {
  const m = LINE_PREFIX.exec(message);
  return m ? `${path}:${m[1]}: ${message.slice(m[0].length)}` : message;
}

const FIXES: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/unknown key '[^']*' \(did you mean '([a-z_]+)'\?/, (m) => `rename the key to ${m[1]}`],
  [/unknown key/, () => "use one of the known keys listed (pam_mapi.conf(5) explains each), or delete the line"],
  [/duplicate key '([a-z_]+)'/, (m) => `keep one ${m[1]}= (the two places are named in the message) and delete the other`],
  [/'config' is only valid as a module argument/, () => "delete config= from the file; name the file with config=PATH on the pam_mapi.so line in /etc/pam.d"],
  [/^timeout:/, () => "write timeout=SECONDS, from 0.1 to 300, e.g. timeout=10"],
  [/^socket:/, () => "write socket=URL[,URL...]: file:///var/run/kopano/server.sock, http://host:236/ or https://host:237/"],
  [/^service:/, () => "write service=FEATURE[|FEATURE...] with features imap, pop3, mobile, outlook, webapp, e.g. service=imap|pop3"],
  [/^(cafile|capath):/, (m) => `write ${m[1]}=/absolute/path, e.g. ${m[1] === "cafile" ? "cafile=/etc/ssl/certs/kopano-ca.pem" : "capath=/etc/ssl/certs"}`],
  [/is not a boolean/, () => "write the bare key (e.g. debug), or KEY=yes / KEY=no"],
  [/needs a value \(([^)]*)\)/, (m) => `write ${m[1]}`],
  [/section/, () => "write [NAME] alone at the start of a line, NAME being a PAM service (a file in /etc/pam.d), without '.'"],
  [/quote|JSON/, () => "quote the whole value in double quotes (\"...\"), or leave it unquoted, and put a comment on its own line"],
  [/control character|UTF-8|carriage return|line separator/, () => "save the file as UTF-8 text with LF (or CRLF) line endings; only TAB is allowed among the control characters"],
  [/bytes, at most/, () => "this is not a pam_mapi configuration file; point config= at the right one"],
  [/module argument/, () => "correct the argument on the pam_mapi.so line in /etc/pam.d (or --arg)"],
];

/** The fix for a configuration error message from the guest. */
export function configFix(message: string): string {
  const body = message.replace(LINE_PREFIX, "").replace(/^module argument \d+ '[^']*': /, "");
  for (const [pattern, fix] of FIXES) {
    const m = pattern.exec(body);
    if (m) return fix(m) + (message !== body && /^module argument/.test(message) ? " (on the pam_mapi.so line in /etc/pam.d, or --arg)" : "");
  }
  return "correct the line it names in the configuration file, or the module argument (--arg)";
}
