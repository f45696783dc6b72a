// One password check, start to finish (design.md "One authentication, end to end", steps 3-5): servers in
// order; logon -> (getUser feature check when service= is set) -> logoff of a registered session. Failover only
// when a server could not give an answer (transport failure, fault, unreadable reply, unexpected er), never
// after LOGON_FAILED.
import { Bytes } from "./bytes";
import { Settings, parseSettings } from "./config";
import { getUserEnvelope, logoffEnvelope, logonEnvelope, LOGON_NO_REGISTER_SESSION, LOGON_NO_UID_AUTH } from "./envelope";
import { Level, log, post, PostResult } from "./host";
import { passwordProblem, userProblem } from "./input";
import { ER_LOGON_FAILED, ER_NONE, errorName } from "./kopano";
import { readFault, readGetUserReply, readLogoffReply, readLogonReply } from "./reply";
import { Code, Verdict } from "./verdict";

/** What one server said, when it said something that ends the search. */
class ServerOutcome {
  constructor(public final: bool, public verdict: Verdict | null, public problem: string) {}
}

export class Request {
  constructor(
    public service: string,
    public user: Bytes,
    public password: Bytes,
    public args: Array<string>,
    public config: Bytes,
    public rhost: string,
  ) {}
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

class Context {
  userText: string;
  constructor(public req: Request, public settings: Settings) {
    this.userText = req.user.toText();
  }

  where(): string {
    let s = "user=" + this.userText;
    if (this.req.rhost.length > 0) s += " rhost=" + printable(this.req.rhost);
    return s + " service=" + printable(this.req.service);
  }

  debug(msg: string): void {
    if (this.settings.debug) log(Level.Debug, msg);
  }

  /** The one line per denied login (pam_unix style), unless `quiet`. */
  denied(reason: string): void {
    if (!this.settings.quiet) log(Level.Notice, "authentication failure; " + this.where() + " reason=" + reason);
  }
}

export function authenticate(req: Request): Verdict {
  const parsed = parseSettings(req.service, req.args, req.config);
  if (parsed.settings == null) {
    log(Level.Error, "configuration error: " + parsed.error);
    return new Verdict(Code.ServiceErr, "configuration error: " + parsed.error);
  }
  const settings = parsed.settings!;

  const badUser = userProblem(req.user);
  if (badUser.length > 0) {
    if (!settings.quiet) log(Level.Notice, "authentication failure; invalid user name: " + badUser);
    return new Verdict(Code.AuthErr, "invalid user name: " + badUser);
  }
  const ctx = new Context(req, settings);
  const badPassword = passwordProblem(req.password);
  if (badPassword.length > 0) {
    ctx.denied(badPassword);
    return new Verdict(Code.AuthErr, badPassword, ctx.userText);
  }

  let lastProblem = "no server configured";
  for (let i = 0; i < settings.servers.length; i++) {
    const outcome = tryServer(ctx, i);
    if (outcome.final) return outcome.verdict!;
    lastProblem = "server " + (i + 1).toString() + " (" + settings.servers[i] + "): " + outcome.problem;
    log(Level.Warning, lastProblem);
  }
  log(Level.Error, "no Kopano server available for " + ctx.where() + "; last: " + lastProblem);
  const code = settings.ignoreUnavailable ? Code.Ignore : Code.AuthinfoUnavail;
  return new Verdict(code, "no server available: " + lastProblem, ctx.userText);
}

function unavailable(problem: string): ServerOutcome {
  return new ServerOutcome(false, null, problem);
}

/** A reply the guest can read (status 200), or why not. */
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

function tryServer(ctx: Context, index: i32): ServerOutcome {
  const wantFeatures = ctx.settings.features.length > 0;
  const flags = LOGON_NO_UID_AUTH | (wantFeatures ? 0 : LOGON_NO_REGISTER_SESSION);
  const body = logonEnvelope(ctx.req.user, ctx.req.password, flags, printable(ctx.req.service));
  const r = post(index, body.view());
  body.wipe(); // the envelope held the password
  const problem = exchangeProblem(r, "logon");
  if (problem.length > 0) return unavailable(problem);

  const logon = readLogonReply(r.body);
  if (!logon.readable) return unavailable("unreadable logon reply: " + logon.problem);
  ctx.debug("server " + (index + 1).toString() + ": logon er=" + errorName(logon.er) + " version=" +
    printable(logon.serverVersion) + " capabilities=" + logon.capabilities.toString());

  if (logon.er == ER_LOGON_FAILED) {
    ctx.denied("wrong password or unknown user");
    return new ServerOutcome(true, new Verdict(Code.AuthErr, "wrong password or unknown user", ctx.userText), "");
  }
  if (logon.er != ER_NONE) return unavailable("server refused the logon with " + errorName(logon.er));

  // Servers before Kopano 8.5 ignore NO_REGISTER_SESSION and open a real session: log it off too.
  const registered = wantFeatures || !knowsNoRegisterSession(logon.serverVersion);
  let verdict = new Verdict(Code.Success, "authenticated", ctx.userText);
  if (wantFeatures) {
    const checked = checkFeatures(ctx, index, logon.sessionId);
    if (!checked.final) {
      logoff(ctx, index, logon.sessionId);
      return checked;
    }
    verdict = checked.verdict!;
  }
  if (registered && logon.sessionId != 0) logoff(ctx, index, logon.sessionId);
  if (verdict.code == Code.Success) ctx.debug("authenticated " + ctx.where() + " on server " + (index + 1).toString());
  return new ServerOutcome(true, verdict, "");
}

/** `service=`: at least one of the features must not be in the user's disabled list (the gateways' rule). */
function checkFeatures(ctx: Context, index: i32, sessionId: u64): ServerOutcome {
  if (sessionId == 0) return unavailable("logon succeeded without a session id; cannot check features");
  const body = getUserEnvelope(sessionId);
  const r = post(index, body.view());
  const problem = exchangeProblem(r, "getUser");
  if (problem.length > 0) return unavailable(problem);
  const user = readGetUserReply(r.body);
  if (!user.readable) return unavailable("unreadable getUser reply: " + user.problem);
  if (user.er != ER_NONE) return unavailable("getUser failed with " + errorName(user.er));

  const canonical = user.username.length > 0 ? user.username : ctx.userText;
  const disabled = user.disabled;
  ctx.debug("server " + (index + 1).toString() + ": features of " + printable(canonical) + ": enabled=" +
    listText(user.enabled) + " disabled=" + listText(disabled));
  const wanted = ctx.settings.features;
  for (let i = 0; i < wanted.length; i++) {
    if (disabled == null || !disabled.includes(wanted[i])) {
      return new ServerOutcome(true, new Verdict(Code.Success, "authenticated; feature " + wanted[i] + " enabled", canonical), "");
    }
  }
  const reason = "none of the required features (" + wanted.join("|") + ") is enabled for the user";
  ctx.denied(reason);
  return new ServerOutcome(true, new Verdict(Code.PermDenied, reason, canonical), "");
}

function logoff(ctx: Context, index: i32, sessionId: u64): void {
  const body = logoffEnvelope(sessionId);
  const r = post(index, body.view());
  const problem = exchangeProblem(r, "logoff");
  if (problem.length > 0) {
    ctx.debug("server " + (index + 1).toString() + ": " + problem);
    return;
  }
  const reply = readLogoffReply(r.body);
  ctx.debug("server " + (index + 1).toString() + ": logoff " +
    (reply.readable ? errorName(reply.result) : "reply unreadable: " + reply.problem));
}

function listText(list: Array<string> | null): string {
  if (list == null) return "(none)";
  const l = list!;
  const parts = new Array<string>();
  for (let i = 0; i < l.length; i++) parts.push(printable(l[i], 32));
  return "[" + parts.join(",") + "]";
}

/**
 * Kopano 8.5 and later (flag added in 8.4.91) honour NO_REGISTER_SESSION. lpszVersion is "0,MAJOR,MINOR,MICRO"
 * (Zarafa "0,7,2,0,48204"); anything unparseable counts as old, so we log off rather than leak a session.
 */
export function knowsNoRegisterSession(version: string): bool {
  const parts = version.split(",");
  if (parts.length < 3 || parts[0] != "0") return false;
  const major = parseDecimal(parts[1]);
  const minor = parseDecimal(parts[2]);
  if (major < 0 || minor < 0) return false;
  return major > 8 || (major == 8 && minor >= 5);
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
