// One password check, start to finish (design.md "One authentication, end to end", steps 3-5): servers in
// order; logon -> (getUser feature check when service= is set) -> logoff of a registered session. Failover only
// when a server could not give an answer (transport failure, fault, unreadable reply, unexpected er), never
// after LOGON_FAILED.
import { Bytes } from "./bytes";
import { getUserEnvelope, LOGON_NO_REGISTER_SESSION, LOGON_NO_UID_AUTH } from "./envelope";
import {
  Conversation, exchangeProblem, finalVerdict, knowsNoRegisterSession, noLogon, Outcome, printable, start, unavailable,
} from "./exchange";
import { Level, log, post } from "./host";
import { passwordProblem } from "./input";
import { ER_LOGON_FAILED, ER_NONE, errorName } from "./kopano";
import { readGetUserReply } from "./reply";
import { Code, Verdict } from "./verdict";

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

class Login extends Conversation {
  /** The one line per denied login (pam_unix style), unless `quiet`. */
  denied(reason: string): void {
    this.notice("authentication failure", reason);
  }
}

export function authenticate(req: Request): Verdict {
  const begun = start(req.service, req.args, req.config, req.user, "authentication failure");
  if (begun.settings == null) return begun.verdict!;
  const settings = begun.settings!;
  const login = new Login(req.user, req.service, req.rhost, settings);
  const badPassword = passwordProblem(req.password);
  if (badPassword.length > 0) {
    login.denied(badPassword);
    return new Verdict(Code.AuthErr, badPassword, login.userText);
  }

  let lastProblem = "no server configured";
  for (let i = 0; i < settings.servers.length; i++) {
    const outcome = tryServer(login, req.password, i);
    if (outcome.final) return outcome.verdict!;
    lastProblem = "server " + (i + 1).toString() + " (" + settings.servers[i] + "): " + outcome.problem;
    log(Level.Warning, lastProblem);
  }
  log(Level.Error, "no Kopano server available for " + login.where() + "; last: " + lastProblem);
  const code = settings.ignoreUnavailable ? Code.Ignore : Code.AuthinfoUnavail;
  return new Verdict(code, "no server available: " + lastProblem, login.userText);
}

function tryServer(login: Login, password: Bytes, index: i32): Outcome {
  const wantFeatures = login.settings.features.length > 0;
  const flags = LOGON_NO_UID_AUTH | (wantFeatures ? 0 : LOGON_NO_REGISTER_SESSION);
  const problem = new Array<string>();
  const logon = login.logon(index, password, flags, problem);
  if (logon == null) return noLogon(login, problem);

  if (logon.er == ER_LOGON_FAILED) {
    login.denied("wrong password or unknown user");
    return finalVerdict(Code.AuthErr, "wrong password or unknown user", login.userText);
  }
  if (logon.er != ER_NONE) return unavailable("server refused the logon with " + errorName(logon.er));

  // Servers before Kopano 8.5 ignore NO_REGISTER_SESSION and open a real session: log it off too.
  const registered = wantFeatures || !knowsNoRegisterSession(logon.serverVersion);
  let verdict = new Verdict(Code.Success, "authenticated", login.userText);
  if (wantFeatures) {
    const checked = checkFeatures(login, index, logon.sessionId);
    if (!checked.final) {
      login.logoff(index, logon.sessionId);
      return checked;
    }
    verdict = checked.verdict!;
  }
  if (registered && logon.sessionId != 0) login.logoff(index, logon.sessionId);
  if (verdict.code == Code.Success) login.debug("authenticated " + login.where() + " on server " + (index + 1).toString());
  return new Outcome(true, verdict, "");
}

/** `service=`: at least one of the features must not be in the user's disabled list (the gateways' rule). */
function checkFeatures(login: Login, index: i32, sessionId: u64): Outcome {
  if (sessionId == 0) return unavailable("logon succeeded without a session id; cannot check features");
  const body = getUserEnvelope(sessionId);
  const r = post(index, body.view());
  const problem = exchangeProblem(r, "getUser");
  if (problem.length > 0) return unavailable(problem);
  const user = readGetUserReply(r.body);
  if (!user.readable) return unavailable("unreadable getUser reply: " + user.problem);
  if (user.er != ER_NONE) return unavailable("getUser failed with " + errorName(user.er));

  const canonical = user.username.length > 0 ? user.username : login.userText;
  const disabled = user.disabled;
  login.debug("server " + (index + 1).toString() + ": features of " + printable(canonical) + ": enabled=" +
    listText(user.enabled) + " disabled=" + listText(disabled));
  const wanted = login.settings.features;
  for (let i = 0; i < wanted.length; i++) {
    if (disabled == null || !disabled.includes(wanted[i])) {
      return finalVerdict(Code.Success, "authenticated; feature " + wanted[i] + " enabled", canonical);
    }
  }
  const reason = "none of the required features (" + wanted.join("|") + ") is enabled for the user";
  login.denied(reason);
  return finalVerdict(Code.PermDenied, reason, canonical);
}

function listText(list: Array<string> | null): string {
  if (list == null) return "(none)";
  const l = list!;
  const parts = new Array<string>();
  for (let i = 0; i < l.length; i++) parts.push(printable(l[i], 32));
  return "[" + parts.join(",") + "]";
}
