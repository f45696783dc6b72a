// What every flow (authentication, password change) does with a server: one call's context for log lines, the
// logon and logoff round trips, reading the host's reply status, and one server's outcome.
import { Bytes } from "./bytes";
import { settingsFor, Settings } from "./config";
import { logoffEnvelope, logonEnvelope } from "./envelope";
import { Level, log, post, PostResult } from "./host";
import { userProblem } from "./input";
import { ER_NONE, errorName } from "./kopano";
import { LogonReply, readFault, readLogoffReply, readLogonReply } from "./reply";
import { Code, Verdict } from "./verdict";

/** What one server said, when it said something that ends the search; `final` false: try the next server. */
export class Outcome {
  constructor(public final: bool, public verdict: Verdict | null, public problem: string) {}
}

export function unavailable(problem: string): Outcome {
  return new Outcome(false, null, problem);
}

export function finalVerdict(code: Code, reason: string, user: string): Outcome {
  return new Outcome(true, new Verdict(code, reason, user), "");
}

/** The start every flow shares: the settings, and a user name fit to send — or the verdict that ends the call. */
export class Start {
  settings: Settings | null = null;
  verdict: Verdict | null = null;
}

/** `failure` names the refused operation in the log line ("authentication failure", "password change failed"). */
export function start(service: string, args: Array<string>, config: Bytes, user: Bytes, failure: string): Start {
  const out = new Start();
  const parsed = settingsFor(service, args, config);
  if (parsed.settings == null) {
    log(Level.Error, "configuration error: " + parsed.error);
    out.verdict = new Verdict(Code.ServiceErr, "configuration error: " + parsed.error);
    return out;
  }
  const badUser = userProblem(user);
  if (badUser.length > 0) {
    if (!parsed.settings!.quiet) log(Level.Notice, failure + "; invalid user name: " + badUser);
    out.verdict = new Verdict(Code.AuthErr, "invalid user name: " + badUser);
    return out;
  }
  out.settings = parsed.settings;
  return out;
}

/** Text safe for a log line: control characters become '?', and long values are cut. */
export function printable(s: string, max: i32 = 128): string {
  let out = "";
  const n = min(s.length, max);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x20 || (c >= 0x7f && c < 0xa0) ? "?" : String.fromCharCode(c);
  }
  return s.length > max ? out + "..." : out;
}

/** Empty if the host brought back a reply the guest can read (status 200), otherwise why not. */
export function exchangeProblem(r: PostResult, what: string): string {
  if (!r.ok) return what + ": " + r.error;
  if (r.status == 500) {
    const fault = readFault(r.body);
    return fault.readable
      ? what + ": SOAP fault " + printable(fault.code) + ": " + printable(fault.text)
      : what + ": HTTP 500 without a readable SOAP fault (" + fault.problem + ")";
  }
  if (r.status != 200) return what + ": HTTP status " + r.status.toString();
  return "";
}

/** One PAM call's user, service and settings, for log lines and the round trips every flow makes. */
export class Conversation {
  userText: string;
  /** Set by logon() when a server answered in a way the administrator must act on (no failover, PAM_SERVICE_ERR). */
  refusal: string = "";
  constructor(public user: Bytes, public service: string, public rhost: string, public settings: Settings) {
    this.userText = user.toText();
  }

  where(): string {
    let s = "user=" + this.userText;
    if (this.rhost.length > 0) s += " rhost=" + printable(this.rhost);
    return s + " service=" + printable(this.service);
  }

  debug(msg: string): void {
    if (this.settings.debug) log(Level.Debug, msg);
  }

  /** The one line per refused request (pam_unix style), unless `quiet`. */
  notice(what: string, reason: string): void {
    if (!this.settings.quiet) log(Level.Notice, what + "; " + this.where() + " reason=" + reason);
  }

  /** ns:logon; null, with the problem pushed, when the server gave no usable answer. */
  logon(index: i32, password: Bytes, flags: u32, problem: Array<string>): LogonReply | null {
    const body = logonEnvelope(this.user, password, flags, printable(this.service));
    const r = post(index, body.view());
    body.wipe(); // the envelope held a password
    const why = exchangeProblem(r, "logon");
    if (why.length > 0) {
      problem.push(why);
      return null;
    }
    const reply = readLogonReply(r.body);
    if (!reply.readable) {
      problem.push("unreadable logon reply: " + reply.problem);
      return null;
    }
    this.debug("server " + (index + 1).toString() + ": logon er=" + errorName(reply.er) + " flags=" + flags.toString() +
      " version=" + printable(reply.serverVersion) + " capabilities=" + reply.capabilities.toString());
    if (reply.er == ER_NONE && this.settings.servers[index].startsWith("file://") && !knowsNoUidAuth(reply.serverVersion)) {
      // Zarafa before 7.1 ignores NO_UID_AUTH: on its unix socket a root caller is logged in with any password,
      // so this "success" says nothing about the password. Log the session off (it ignored NO_REGISTER_SESSION).
      if (reply.sessionId != 0) this.logoff(index, reply.sessionId);
      this.refusal = "server " + (index + 1).toString() + " (" + this.settings.servers[index] + ") is Zarafa/Kopano version \"" +
        printable(reply.serverVersion, 32) + "\", older than 7.1: it ignores NO_UID_AUTH on its unix socket and would " +
        "log a root caller in with any password; use http:// or https:// to this server instead";
      log(Level.Error, "refusing " + this.where() + ": " + this.refusal);
      problem.push(this.refusal);
      return null;
    }
    return reply;
  }

  logoff(index: i32, sessionId: u64): void {
    const body = logoffEnvelope(sessionId);
    const r = post(index, body.view());
    const why = exchangeProblem(r, "logoff");
    if (why.length > 0) {
      this.debug("server " + (index + 1).toString() + ": " + why);
      return;
    }
    const reply = readLogoffReply(r.body);
    this.debug("server " + (index + 1).toString() + ": logoff " +
      (reply.readable ? errorName(reply.result) : "reply unreadable: " + reply.problem));
  }
}

/** After logon() gave null: a refusal ends the search with PAM_SERVICE_ERR, anything else tries the next server. */
export function noLogon(conversation: Conversation, problem: Array<string>): Outcome {
  if (conversation.refusal.length > 0) return finalVerdict(Code.ServiceErr, conversation.refusal, conversation.userText);
  return unavailable(problem[0]);
}

/**
 * Zarafa 7.1.0 and later honour NO_UID_AUTH (kopano-soap.md §1.6: ulFlags and ZARAFA_LOGON_NO_UID_AUTH arrived in
 * ZCP 7.1.0); ZCP 7.0 has no ulFlags at all. Anything unparseable counts as old: over the unix socket that refuses.
 */
export function knowsNoUidAuth(version: string): bool {
  const v = majorMinor(version);
  return v[0] > 7 || (v[0] == 7 && v[1] >= 1);
}

/** [major, minor] of lpszVersion "0,MAJOR,MINOR,..." (Zarafa "0,7,2,0,48204"), or [-1, -1]. */
function majorMinor(version: string): Array<i32> {
  const parts = version.split(",");
  if (parts.length < 3 || parts[0] != "0") return [-1, -1];
  const major = parseDecimal(parts[1]);
  const minor = parseDecimal(parts[2]);
  if (major < 0 || minor < 0) return [-1, -1];
  return [major, minor];
}

/**
 * Kopano 8.5 and later (flag added in 8.4.91) honour NO_REGISTER_SESSION. lpszVersion is "0,MAJOR,MINOR,MICRO"
 * (Zarafa "0,7,2,0,48204"); anything unparseable counts as old, so we log off rather than leak a session.
 */
export function knowsNoRegisterSession(version: string): bool {
  const v = majorMinor(version);
  return v[0] > 8 || (v[0] == 8 && v[1] >= 5);
}

function parseDecimal(s: string): i32 {
  if (s.length == 0 || s.length > 6) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}
