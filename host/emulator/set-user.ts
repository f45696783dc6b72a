// ns:setUser with kopano-server 11.0.2's semantics (kopano-chauthtok.md §2.2, §6): not a patch. Omitted numbers
// arrive as 0 and are written; 4294967295 means "unchanged"; the explicit feature lists are rewritten from the
// sent lpsMVPropmap (server defaults removed) or deleted when none is sent; the password is stored verbatim (a
// `{2}:` prefix included), an empty one ignored. A non-admin may only change their own object, and the self path
// drops changes of name, mail, full name, server, class and admin flag, but not of the hidden flag or features.
import type { SetUserRequest, SentUser } from './setuser-decode.js';
import { KCERR } from './profiles.js';
import { SYSTEM_USER_ID, type AuthMethod, type ResolvedUser, type UserDirectory, type UserPlugin } from './users.js';
import type { Session } from './sessions.js';

const UNCHANGED = 0xffffffff;
const ACTIVE_USER = 0x10001;
const NONACTIVE_USER = 0x10002;
const PR_EC_ENABLED_FEATURES_A = 0x67b3101e;
const PR_EC_DISABLED_FEATURES_A = 0x67b4101e;
const MUIDECSAB = Buffer.from('ac21a95040d3ee48b319fba753304425', 'hex');

export interface SetUserContext {
  users: UserDirectory;
  builtinFeatures: readonly string[];
  userPlugin: UserPlugin;
  authMethod: AuthMethod;
  /** auth_method=pam: where setUser's password goes (the DB row), apart from what logon checks */
  dbPasswords: Map<number, string>;
}

export interface SetUserOutcome {
  result: number;
  /** the server log's warnings and what changed, for the summary line; never a password */
  notes: string[];
}

function classOf(u: ResolvedUser): number {
  return u.active ? ACTIVE_USER : NONACTIVE_USER;
}

/** ECUserManagement::RemoveDefaultFeatures: keep only what differs from the server's defaults. */
function withoutDefaults(ctx: SetUserContext, sent: string[], enabled: boolean): string[] {
  const defaultOn = (f: string) => ctx.builtinFeatures.includes(f) && !ctx.users.defaultDisabledFeatures.includes(f);
  const defaultOff = (f: string) => ctx.users.defaultDisabledFeatures.includes(f);
  return sent.filter((f, i) => sent.indexOf(f) === i && !(enabled ? defaultOn(f) : defaultOff(f)));
}

export function setUser(ctx: SetUserContext, req: SetUserRequest, session: Session): SetUserOutcome {
  const notes: string[] = [];
  const u = req.lpsUser;
  if (!u) return { result: KCERR.INVALID_PARAMETER, notes: ['no lpsUser'] };

  // Target: sUserId (an AB entryid) wins over ulUserId; an invalid one is INVALID_PARAMETER.
  let id = u.ulUserId;
  if (u.sUserId.length > 0) {
    if (u.sUserId.length < 32 || !u.sUserId.subarray(4, 20).equals(MUIDECSAB)) {
      return { result: KCERR.INVALID_PARAMETER, notes: ['invalid sUserId'] };
    }
    id = u.sUserId.readUInt32LE(28);
  }
  const target = id !== 0 ? ctx.users.byId(id) : undefined;
  if (id !== 0 && !target) return { result: KCERR.NOT_FOUND, notes: [`no object ${id}`] };

  const sessionUser = session.userId === SYSTEM_USER_ID ? undefined : ctx.users.byId(session.userId);
  const sessionIsAdmin = session.userId === SYSTEM_USER_ID || (sessionUser?.admin ?? 0) !== 0;
  const sent: SentUser = { ...u };
  if (!(sessionIsAdmin && target)) {
    if (!target || session.userId !== id) {
      notes.push(`Disallowing user "${sessionUser?.name ?? ''}" to update details of user "${u.lpszUsername ?? '(null)'}"`);
      return { result: KCERR.NO_ACCESS, notes };
    }
    // self path: these fields are dropped when they differ from the stored values (with a warning each)
    const stored: Record<string, string> = {
      lpszUsername: target.name, lpszMailAddress: target.email, lpszFullName: target.fullName, lpszServername: '',
    };
    for (const k of ['lpszUsername', 'lpszMailAddress', 'lpszFullName', 'lpszServername'] as const) {
      if (sent[k] !== null && sent[k] !== stored[k]) {
        notes.push(`Disallowing user "${target.name}" to update their ${k}`);
        sent[k] = null;
      }
    }
    if (sent.ulObjClass !== UNCHANGED && sent.ulObjClass !== classOf(target)) {
      notes.push(`Disallowing user "${target.name}" to update their active flag to ${sent.ulObjClass}`);
      sent.ulObjClass = UNCHANGED;
    }
    if (sent.ulIsAdmin !== UNCHANGED && sent.ulIsAdmin !== target.admin) {
      notes.push(`Disallowing user "${target.name}" to update their admin flag to ${sent.ulIsAdmin}`);
      sent.ulIsAdmin = UNCHANGED;
    }
  }
  const user = target!;

  // changeObject of the configured user plugin
  if (ctx.userPlugin === 'ldap') {
    notes.push(`K-1505: Unable to set details for external user ${id}: Changing objects not implemented by the ldap userplugin`);
    return { result: KCERR.NOT_IMPLEMENTED, notes };
  }
  if (ctx.userPlugin === 'unix') {
    if (sent.lpszPassword) {
      notes.push(`K-1506: Unable to set details for external user ${id}: Updating the password is not allowed with the Unix plugin.`);
      return { result: KCERR.PLUGIN_ERROR, notes };
    }
    if (sent.lpszFullName) {
      notes.push(`K-1506: Unable to set details for external user ${id}: Updating the fullname is not allowed with the Unix plugin.`);
      return { result: KCERR.PLUGIN_ERROR, notes };
    }
  }

  // DB plugin: empty strings are not written; every number that is not "unchanged" is, 0 included.
  if (sent.lpszUsername) user.name = sent.lpszUsername;
  if (sent.lpszMailAddress) user.email = sent.lpszMailAddress;
  if (sent.lpszFullName) user.fullName = sent.lpszFullName;
  if (sent.lpszPassword) {
    if (ctx.authMethod === 'pam') ctx.dbPasswords.set(user.id, sent.lpszPassword);
    else user.password = sent.lpszPassword;
    notes.push('password changed');
  }
  if (sent.ulIsAdmin !== UNCHANGED) user.admin = sent.ulIsAdmin;
  if (sent.ulIsABHidden !== UNCHANGED) user.hidden = sent.ulIsABHidden;
  // ulCapacity is not a DB-plugin column: no effect.
  const newClass = sent.ulObjClass !== UNCHANGED ? sent.ulObjClass : ACTIVE_USER;
  if (sent.ulObjClass !== UNCHANGED && sent.ulObjClass !== 0 && (sent.ulObjClass & 0xffff0000) === (classOf(user) & 0xffff0000)) {
    user.active = sent.ulObjClass === ACTIVE_USER;
  }
  // RemoveDefaultFeatures runs for ACTIVE_USER details only, and always writes both lists.
  if (newClass === ACTIVE_USER) {
    const list = (propId: number) => sent.lpsMVPropmap?.find((p) => p.propId === propId)?.values ?? [];
    user.enabledFeatures = withoutDefaults(ctx, list(PR_EC_ENABLED_FEATURES_A), true);
    user.disabledFeatures = withoutDefaults(ctx, list(PR_EC_DISABLED_FEATURES_A), false);
  }
  return { result: 0, notes };
}
