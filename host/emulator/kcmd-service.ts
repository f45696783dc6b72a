// The three KCmd operations with the rules of the real server (kopano-soap.md §4.2-§4.4, §5, §10).
import { randomBytes } from 'node:crypto';
import type { DecodedRequest } from './soap-decode.js';
import { CAP, ECHOED_CLIENT_CAPS, KCERR, type ProfileSpec } from './profiles.js';
import { logonResponse, logoffResponse, getUserResponse, setUserResponse, type UserDetailsFields } from './envelope.js';
import { setUser } from './set-user.js';
import { SessionTable } from './sessions.js';
import {
  UserDirectory, complementDefaultFeatures, SYSTEM_USER_ID, SYSTEM_USER_NAME, type AuthMethod, type ResolvedUser, type UserPlugin,
} from './users.js';
import { deobfuscatePassword, reinterpretAsWindows1252 } from './password.js';

export type Caller = { kind: 'tcp'; address: string } | { kind: 'unix'; pid: number; uid: number };

export interface OperationResult {
  /** the element inside SOAP-ENV:Body */
  inner: string;
  chunked: boolean;
  compressed: boolean;
  /** one-line summary for the log; never contains a password */
  summary: string;
}

const LOGON_NO_UID_AUTH = 0x1;
const LOGON_NO_REGISTER_SESSION = 0x2;
const PR_EC_ENABLED_FEATURES_A = 0x67b3101e;
const PR_EC_DISABLED_FEATURES_A = 0x67b4101e;
const ACTIVE_USER = 0x10001;
const NONACTIVE_USER = 0x10002;
/** MUIDECSAB, the address-book provider GUID in every AB entryid (real-client-kopano-admin-conversation.txt). */
const MUIDECSAB = Buffer.from('ac21a95040d3ee48b319fba753304425', 'hex');
const MAPI_MAILUSER = 6;

function callerKey(c: Caller): string {
  return c.kind === 'tcp' ? `ip:${c.address}` : `pid:${c.pid}`;
}

/**
 * ParseKopanoVersion (KC pcutil.cpp, §4.2 item 4): only the comma form "[0,]general,major,minor[,rev]" parses;
 * anything else is KOPANO_VERSION_UNKNOWN, which passes. Returns the general version or null.
 */
function generalVersion(v: string | null): number | null {
  if (v === null) return null;
  const parts = v.split(',');
  if (!parts.every((p) => /^[0-9]+$/.test(p))) return null;
  if (parts.length >= 4 && parts[0] === '0') parts.shift();
  if (parts.length < 3 || parts.length > 4) return null;
  return Number(parts[0]);
}

/** ABEID v0 {flags, MUIDECSAB, version, type, id, ""} padded to 4 bytes, as SYSTEM's sUserId in the capture. */
function addressBookEntryId(id: number): Buffer {
  const b = Buffer.alloc(36);
  MUIDECSAB.copy(b, 4);
  b.writeUInt32LE(0, 20);
  b.writeUInt32LE(MAPI_MAILUSER, 24);
  b.writeUInt32LE(id, 28);
  return b;
}

export class KCmdService {
  readonly sessions = new SessionTable();
  private readonly serverGuid = randomBytes(16);

  constructor(
    private readonly spec: ProfileSpec,
    private readonly users: UserDirectory,
    private readonly localAdminUsers: number[],
    private readonly plugin: { userPlugin: UserPlugin; authMethod: AuthMethod } = { userPlugin: 'db', authMethod: 'plugin' },
  ) {}

  /** auth_method=pam: the passwords setUser wrote to the DB rows, which logon never reads. */
  readonly dbPasswords = new Map<number, string>();

  handle(req: DecodedRequest, caller: Caller): OperationResult {
    switch (req.operation) {
      case 'logon':
        return this.logon(req, caller);
      case 'logoff':
        return this.logoff(req, caller);
      case 'getUser':
        return this.getUser(req, caller);
      case 'setUser':
        return this.setUser(req, caller);
    }
  }

  private logon(req: Extract<DecodedRequest, { operation: 'logon' }>, caller: Caller): OperationResult {
    const spec = this.spec;
    const caps = req.ulCapabilities >>> 0;
    const unicode = (caps & CAP.UNICODE) !== 0;
    const chunked = (caps & CAP.ENHANCED_ICS) !== 0;
    const fail = (er: number, why: string): OperationResult => ({
      inner: logonResponse(
        {
          er,
          sessionId: 0n,
          version: spec.versionInFailureReply ? spec.version : null,
          capabilities: spec.versionInFailureReply ? spec.latestCapabilities : 0,
          serverGuid: Buffer.alloc(0),
        },
        spec,
      ),
      chunked: false,
      compressed: false,
      summary: `logon user=${JSON.stringify(req.szUsername)} er=${er >>> 0} (${why})`,
    });

    // 1. UNICODE check before anything is filled in: tcp-f has no lpszVersion and caps 0.
    if (!unicode && spec.badCharwidthEr !== null) {
      return {
        ...fail(spec.badCharwidthEr, 'no UNICODE capability'),
        inner: logonResponse(
          { er: spec.badCharwidthEr, sessionId: 0n, version: null, capabilities: 0, serverGuid: Buffer.alloc(0) },
          spec,
        ),
      };
    }
    // Older servers read the strings of a non-Unicode client as Windows-1252 (§4.1).
    const text = (s: string | null) => (s === null || unicode ? s : reinterpretAsWindows1252(s));
    const username = text(req.szUsername);
    const password = text(req.szPassword);
    const impersonate = text(req.szImpersonateUser);

    // 2. CreateSession: unix peer uid (unless NO_UID_AUTH), then the password (§4.2 item 3, §4.4).
    let user: ResolvedUser | 'SYSTEM' | undefined;
    let method: string;
    // ZCP 7.0 knows neither ulFlags nor szImpersonateUser: a local admin uid is always logged in (§1.6).
    const uidAuth =
      caller.kind === 'unix' &&
      (!spec.honoursNoUidAuth ||
        ((req.ulFlags & LOGON_NO_UID_AUTH) === 0 &&
          impersonate !== null)) && // NULL impersonate makes the uid path fail and fall through (§4.4)
      (this.localAdminUsers.includes(caller.uid) || caller.uid === process.geteuid?.());
    if (uidAuth) {
      method = 'pipe socket';
      if (username === null) return fail(KCERR.LOGON_FAILED, 'no user name');
      if (username.toUpperCase() === SYSTEM_USER_NAME) user = 'SYSTEM';
      else user = this.users.byName(username);
      if (!user) return fail(KCERR.LOGON_FAILED, 'unknown user');
      if (user !== 'SYSTEM' && !user.active) return fail(KCERR.LOGON_FAILED, 'inactive user');
    } else {
      method = 'password';
      if (username === null || password === null) return fail(KCERR.LOGON_FAILED, 'missing name or password');
      if (username.toUpperCase() === SYSTEM_USER_NAME) return fail(KCERR.LOGON_FAILED, 'SYSTEM by password');
      user = this.users.byName(username);
      const clear = deobfuscatePassword(password);
      if (!user || !user.active || clear === null || clear !== user.password) {
        return fail(KCERR.LOGON_FAILED, 'authentication failed');
      }
    }

    const compressed = spec.grantsCompression && (caps & CAP.COMPRESSION) !== 0;
    const grantedCaps = (spec.latestCapabilities | (caps & ECHOED_CLIENT_CAPS) | (compressed ? CAP.COMPRESSION : 0)) >>> 0;
    const userId = user === 'SYSTEM' ? SYSTEM_USER_ID : user.id;
    const large = (caps & CAP.LARGE_SESSIONID) !== 0;

    let sessionId: bigint;
    if ((req.ulFlags & LOGON_NO_REGISTER_SESSION) !== 0 && spec.honoursNoRegisterSession) {
      // authenticated, nothing registered, version check skipped (§4.3)
      sessionId = this.sessions.create({ userId, boundTo: '', chunked, compressed }, large).id;
      this.sessions.remove(sessionId);
    } else {
      // 3. Client version check only after a successful authentication (tcp-g vs tcp-g2).
      const general = generalVersion(req.szVersion);
      if (general !== null && general < 6) return fail(KCERR.INVALID_VERSION, 'client version refused');
      sessionId = this.sessions.create({ userId, boundTo: callerKey(caller), chunked, compressed }, large).id;
    }
    return {
      inner: logonResponse(
        { er: 0, sessionId, version: spec.version, capabilities: grantedCaps, serverGuid: this.serverGuid },
        spec,
      ),
      chunked,
      compressed,
      summary: `logon user=${JSON.stringify(req.szUsername)} er=0 method=${method}`,
    };
  }

  private logoff(req: Extract<DecodedRequest, { operation: 'logoff' }>, caller: Caller): OperationResult {
    const s = this.sessions.validate(req.ulSessionId, callerKey(caller));
    if (!s) {
      return { inner: logoffResponse(KCERR.END_OF_SESSION), chunked: false, compressed: false, summary: 'logoff er=END_OF_SESSION' };
    }
    this.sessions.remove(s.id);
    return { inner: logoffResponse(0), chunked: s.chunked, compressed: s.compressed, summary: 'logoff result=0' };
  }

  private getUser(req: Extract<DecodedRequest, { operation: 'getUser' }>, caller: Caller): OperationResult {
    const v = req.soapVersion;
    const s = this.sessions.validate(req.ulSessionId, callerKey(caller));
    if (!s) {
      return {
        inner: getUserResponse(KCERR.END_OF_SESSION, null, this.spec, v),
        chunked: false,
        compressed: false,
        summary: 'getUser er=END_OF_SESSION',
      };
    }
    const frame = { chunked: s.chunked, compressed: s.compressed };
    // ulUserId 0 with an empty sUserId is the session's own user (§5.2); an entryid names the user by its id.
    let id = req.ulUserId;
    if (req.sUserId.length >= 32 && req.sUserId.subarray(4, 20).equals(MUIDECSAB)) id = req.sUserId.readUInt32LE(28);
    else if (id === 0 && req.sUserId.length === 0) id = s.userId;
    const details = this.userDetails(id);
    if (!details) {
      return { inner: getUserResponse(KCERR.NOT_FOUND, null, this.spec, v), ...frame, summary: 'getUser er=NOT_FOUND' };
    }
    return { inner: getUserResponse(0, details, this.spec, v), ...frame, summary: `getUser user=${details.username} er=0` };
  }

  private setUser(req: Extract<DecodedRequest, { operation: 'setUser' }>, caller: Caller): OperationResult {
    // a session from NO_REGISTER_SESSION, a logged-off one or another peer's is END_OF_SESSION (§5.2)
    const s = this.sessions.validate(req.ulSessionId, callerKey(caller));
    if (!s) {
      return { inner: setUserResponse(KCERR.END_OF_SESSION), chunked: false, compressed: false, summary: 'setUser result=END_OF_SESSION' };
    }
    const outcome = setUser(
      { users: this.users, builtinFeatures: this.spec.builtinFeatures, dbPasswords: this.dbPasswords, ...this.plugin },
      req,
      s,
    );
    const notes = outcome.notes.length > 0 ? ` (${outcome.notes.join('; ')})` : '';
    return {
      inner: setUserResponse(outcome.result),
      chunked: s.chunked,
      compressed: s.compressed,
      summary: `setUser result=${outcome.result >>> 0}${notes}`,
    };
  }

  private userDetails(id: number): UserDetailsFields | undefined {
    if (id === SYSTEM_USER_ID) {
      // exactly what 11.0.2 answered for SYSTEM (real-client-kopano-admin-conversation.txt); no feature lists
      return {
        userId: SYSTEM_USER_ID,
        username: SYSTEM_USER_NAME,
        mailAddress: 'postmaster@localhost',
        fullName: SYSTEM_USER_NAME,
        serverName: 'Unknown',
        nonActive: 0,
        admin: 2,
        abHidden: 1,
        capacity: 0,
        objClass: ACTIVE_USER,
        mvProps: null,
        entryId: addressBookEntryId(SYSTEM_USER_ID),
      };
    }
    const u = this.users.byId(id);
    if (!u) return undefined;
    const f = complementDefaultFeatures(u, this.spec.builtinFeatures, this.users.defaultDisabledFeatures);
    return {
      userId: u.id,
      username: u.name,
      mailAddress: u.email,
      fullName: u.fullName,
      serverName: '',
      nonActive: u.active ? 0 : 1,
      admin: u.admin,
      abHidden: u.hidden,
      capacity: u.capacity,
      objClass: u.active ? ACTIVE_USER : NONACTIVE_USER,
      mvProps: [
        { propId: PR_EC_ENABLED_FEATURES_A, values: f.enabled },
        { propId: PR_EC_DISABLED_FEATURES_A, values: f.disabled },
      ],
      entryId: addressBookEntryId(u.id),
    };
  }
}
