// A password change through PAM (pam_sm_chauthtok), as kopano-chauthtok.md §8 derives it from the real server.
// setUser has no old-password parameter and is not a patch: the old password is checked only by the logon
// before it (always with NO_UID_AUTH, or a setuid-root passwd over the unix socket would skip that check), and
// the request must say "unchanged" for every number and copy the feature lists, or the server resets them.
// Success only once a fresh logon with the new password works: servers with auth_method=pam/kerberos accept
// setUser and keep checking the old password elsewhere.
import { Bytes } from "./bytes";
import { Settings } from "./config";
import { getUserEnvelope, needsObfuscatedForm, setUserEnvelope, LOGON_NO_REGISTER_SESSION, LOGON_NO_UID_AUTH } from "./envelope";
import {
  Conversation, exchangeProblem, finalVerdict, knowsNoRegisterSession, noLogon, Outcome, start, unavailable,
} from "./exchange";
import { Level, log, post } from "./host";
import { passwordProblem } from "./input";
import { ER_LOGON_FAILED, ER_NONE, errorName } from "./kopano";
import { LogonReply, MvProp, readGetUserReply, readSetUserReply } from "./reply";
import { Code, Verdict } from "./verdict";

export const enum Phase { Prelim = 0, Update = 1 }

export const ER_NOT_IMPLEMENTED: u32 = 0x8000001f; // LDAP user plugin
export const ER_PLUGIN_ERROR: u32 = 0x8000001d; // Unix user plugin, or a DB-plugin SQL failure
export const ER_NO_SUPPORT: u32 = 0x80000018;

// What the user reads (through the PAM conversation) when the server cannot take the change.
export const MESSAGE_LDAP = "Kopano takes its passwords from the LDAP/Active Directory server: change your password there.";
export const MESSAGE_PLUGIN =
  "The Kopano server could not store the password (with the Unix user plugin, use the system passwd to change it; otherwise see the server log).";
export const MESSAGE_NO_SUPPORT = "The Kopano user plugin does not support password changes.";
export const MESSAGE_NOT_VERIFIED =
  "The Kopano server accepted the new password but does not accept it at logon (it checks passwords elsewhere, e.g. auth_method = pam or kerberos); nothing was gained.";

export class ChangeRequest {
  constructor(
    public service: string,
    public phase: Phase,
    public user: Bytes,
    public oldPassword: Bytes,
    public newPassword: Bytes,
    public args: Array<string>,
    public config: Bytes,
    public rhost: string,
  ) {}
}

/** Empty if `password` can become the new Kopano password, otherwise why not (written for the user). */
export function newPasswordProblem(password: Bytes): string {
  if (password.len == 0) return "The new password is empty.";
  const basic = passwordProblem(password);
  if (basic.length > 0) return "The new " + basic + ".";
  // The server stores these literally, so no client could ever log in with them (kopano-chauthtok.md §5.3).
  if (password.startsWith("{1}:") || password.startsWith("{2}:")) return "The new password must not begin with {1}: or {2}:.";
  if (needsObfuscatedForm(password)) return "The new password contains a character that cannot be sent to the server.";
  return "";
}

class Change extends Conversation {
  constructor(public req: ChangeRequest, settings: Settings) {
    super(req.user, req.service, req.rhost, settings);
  }

  failed(reason: string): void {
    this.notice("password change failed", reason);
  }

  /** A password-only check that leaves no session behind (old servers ignore NO_REGISTER_SESSION). */
  check(index: i32, password: Bytes, problem: Array<string>): LogonReply | null {
    const reply = this.logon(index, password, LOGON_NO_UID_AUTH | LOGON_NO_REGISTER_SESSION, problem);
    if (reply != null && reply.er == ER_NONE && reply.sessionId != 0 && !knowsNoRegisterSession(reply.serverVersion)) {
      this.logoff(index, reply.sessionId);
    }
    return reply;
  }
}

export function chauthtok(req: ChangeRequest): Verdict {
  const begun = start(req.service, req.args, req.config, req.user, "password change failed");
  if (begun.settings == null) return begun.verdict!;
  const settings = begun.settings!;
  const change = new Change(req, settings);
  const badOld = passwordProblem(req.oldPassword);
  if (badOld.length > 0) {
    change.failed("current password: " + badOld);
    return new Verdict(Code.AuthErr, "current password: " + badOld, change.userText);
  }
  if (req.phase == Phase.Update) {
    const badNew = newPasswordProblem(req.newPassword);
    if (badNew.length > 0) {
      change.failed(badNew);
      return new Verdict(Code.AuthtokErr, badNew, change.userText);
    }
  }

  let lastProblem = "no server configured";
  for (let i = 0; i < settings.servers.length; i++) {
    const outcome = req.phase == Phase.Prelim ? prelim(change, i) : update(change, i);
    if (outcome.final) return outcome.verdict!;
    lastProblem = "server " + (i + 1).toString() + " (" + settings.servers[i] + "): " + outcome.problem;
    log(Level.Warning, lastProblem);
  }
  log(Level.Error, "no Kopano server available to change the password for " + change.where() + "; last: " + lastProblem);
  // PAM_TRY_AGAIN from the preliminary check stops passwd before it asks for a new password.
  const code = settings.ignoreUnavailable ? Code.Ignore : req.phase == Phase.Prelim ? Code.TryAgain : Code.AuthinfoUnavail;
  return new Verdict(code, "no server available: " + lastProblem, change.userText);
}

/** PAM_PRELIM_CHECK: the current password is right. */
function prelim(change: Change, index: i32): Outcome {
  const problem = new Array<string>();
  const reply = change.check(index, change.req.oldPassword, problem);
  if (reply == null) return noLogon(change, problem);
  if (reply.er == ER_LOGON_FAILED) {
    change.failed("wrong current password or unknown user");
    return finalVerdict(Code.AuthErr, "wrong current password or unknown user", change.userText);
  }
  if (reply.er != ER_NONE) return unavailable("server refused the logon with " + errorName(reply.er));
  change.debug("current password of " + change.where() + " verified on server " + (index + 1).toString());
  return finalVerdict(Code.Success, "current password verified", change.userText);
}

/** PAM_UPDATE_AUTHTOK on one server: logon -> getUser -> setUser -> logoff -> logon with the new password. */
function update(change: Change, index: i32): Outcome {
  const req = change.req;
  const problem = new Array<string>();
  const logon = change.logon(index, req.oldPassword, LOGON_NO_UID_AUTH, problem);
  if (logon == null) return noLogon(change, problem);
  if (logon.er == ER_LOGON_FAILED) {
    change.failed("wrong current password or unknown user");
    return finalVerdict(Code.AuthErr, "wrong current password or unknown user", change.userText);
  }
  if (logon.er != ER_NONE) return unavailable("server refused the logon with " + errorName(logon.er));
  if (logon.sessionId == 0) return unavailable("logon succeeded without a session id");
  const sessionId = logon.sessionId;

  // getUser(0): the user's own id and every MV property list, to send back unchanged.
  const g = post(index, getUserEnvelope(sessionId).view());
  let why = exchangeProblem(g, "getUser");
  if (why.length == 0) {
    const user = readGetUserReply(g.body);
    if (!user.readable) why = "unreadable getUser reply: " + user.problem;
    else if (user.er != ER_NONE) why = "getUser failed with " + errorName(user.er);
    else if (user.userId == 0) why = "getUser reply without the user's id";
    // Without the lists, setUser would delete the user's explicit feature settings.
    else if (user.mvProps.length == 0) why = "getUser reply without lpsMVPropmap; not sending a setUser that would reset the user's features";
    if (why.length == 0) return store(change, index, sessionId, user.userId, user.username.length > 0 ? user.username : change.userText, user.mvProps);
  }
  change.logoff(index, sessionId);
  return unavailable(why);
}

function store(change: Change, index: i32, sessionId: u64, userId: u32, canonical: string,
               mvProps: Array<MvProp>): Outcome {
  const req = change.req;
  const body = setUserEnvelope(sessionId, userId, req.newPassword, mvProps);
  const r = post(index, body.view());
  body.wipe();
  let why = exchangeProblem(r, "setUser");
  let result: u32 = 0;
  if (why.length == 0) {
    const reply = readSetUserReply(r.body);
    if (!reply.readable) why = "unreadable setUser reply: " + reply.problem;
    else result = reply.result;
  }
  change.logoff(index, sessionId);

  if (why.length == 0 && result != ER_NONE) {
    log(Level.Error, "server " + (index + 1).toString() + " refused the password change for " + change.where() +
      " with " + errorName(result));
    let message = "The Kopano server refused the password change (" + errorName(result) + ").";
    if (result == ER_NOT_IMPLEMENTED) message = MESSAGE_LDAP;
    else if (result == ER_PLUGIN_ERROR) message = MESSAGE_PLUGIN;
    else if (result == ER_NO_SUPPORT) message = MESSAGE_NO_SUPPORT;
    change.failed(errorName(result));
    return finalVerdict(Code.AuthtokErr, message, canonical);
  }
  // Also after an unconfirmed setUser (a lost reply, a fault): whether the new password works decides.
  if (why.length > 0) log(Level.Warning, "server " + (index + 1).toString() + ": " + why + "; checking whether the change took effect");

  const problem = new Array<string>();
  const verify = change.check(index, req.newPassword, problem);
  if (verify != null && verify.er == ER_NONE) {
    if (!change.settings.quiet) log(Level.Notice, "password changed for " + change.where());
    return finalVerdict(Code.Success, "password changed", canonical);
  }
  if (why.length > 0) {
    change.failed(why);
    return finalVerdict(Code.AuthtokErr, "The Kopano server did not confirm the password change; the old password may still be valid.", canonical);
  }
  if (verify == null) {
    change.failed("the change could not be verified: " + problem[0]);
    return finalVerdict(Code.AuthtokErr, "The Kopano server accepted the new password, but it could not be verified; try logging in with it.", canonical);
  }
  change.failed("the new password does not log in (" + errorName(verify.er) + ")");
  return finalVerdict(Code.AuthtokErr, MESSAGE_NOT_VERIFIED, canonical);
}
