// From a password change's outcome to what the user and the administrator need: the PAM result, the cause in
// plain words, the fix, the exit code (as advice.ts does for `check`).
import type { AuthenticationOutcome } from "../authenticate.js";
import { advise, PAM_NAMES, type Advice } from "./advice.js";
import { EXIT } from "./exit-codes.js";

/** The guest's sentences for a change the server cannot take (assembly/chauthtok.ts) and what to do then. */
const REFUSALS: Array<[RegExp, string]> = [
  [/LDAP\/Active Directory/, "change the password in the LDAP/Active Directory server (its own tools, e.g. ldappasswd, or the Windows password change); Kopano reads it from there"],
  [/Unix user plugin/, "with user_plugin = unix the password is the system account's: change it with the system passwd (as root: passwd USER); otherwise see the kopano-server log (K-1506)"],
  [/does not support password changes/, "the server's user plugin cannot store passwords: change it where the plugin takes them from"],
  [/does not accept it at logon/, "the server checks passwords elsewhere (auth_method = pam or kerberos in server.cfg): change the password there"],
  [/^The new password/, "choose another new password"],
];

export function adviseOnChange(outcome: AuthenticationOutcome, user: string, configPath: string): Advice {
  const { verdict, failure } = outcome;
  const pam = PAM_NAMES[verdict.code];
  if (failure) return advise(outcome, user, configPath);
  switch (verdict.code) {
    case "success":
      return { pam, exitCode: EXIT.ok, cause: `the server stores the new password for ${verdict.user || user}, and it logs in` };
    case "auth-err":
    case "perm-denied":
      return { pam, exitCode: EXIT.denied, cause: verdict.reason || "wrong current password, unknown or inactive user",
        fix: `type the current Kopano password; \`kopano-admin --details ${user}\` shows whether the account exists and is active` };
    case "authtok-err": {
      const fix = REFUSALS.find(([pattern]) => pattern.test(verdict.reason))?.[1] ?? "see the kopano-server log for the setUser call";
      return { pam, exitCode: EXIT.denied, cause: verdict.reason, fix };
    }
    case "try-again":
      // The preliminary check's "unavailable": the same causes as check's.
      return { ...advise({ ...outcome, verdict: { ...verdict, code: "authinfo-unavail" } }, user, configPath), pam };
    default:
      return advise(outcome, user, configPath);
  }
}
