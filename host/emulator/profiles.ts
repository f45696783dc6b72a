// Server profiles the emulator can pretend to be. Every value names its source in docs/kopano-soap.md
// (shared/docs) or the capture it was measured from; "[INF]" marks values that are inferred, not observed.

export type Profile = 'kopano-11' | 'kopano-9' | 'kopano-8.7.16' | 'zarafa-7.2' | 'zarafa-7.1' | 'zarafa-7.0';

export interface ProfileSpec {
  /** lpszVersion in logonResponse (§1.3: "0," + comma version). */
  version: string;
  /** Server capability bits before echoing client bits (§4.5 LATEST_CAPABILITIES). */
  latestCapabilities: number;
  /** er for a logon without CAP_UNICODE, or null when such a client is accepted as Windows-1252 (§4.1). */
  badCharwidthEr: number | null;
  /** Whether ulFlags 0x2 NO_REGISTER_SESSION is understood (Kopano >= 8.4.91, §4.3). */
  honoursNoRegisterSession: boolean;
  /** Whether ulFlags 0x1 NO_UID_AUTH is understood (ZCP >= 7.1.0, §1.6); older servers log a local admin uid on the
   * unix socket in as anyone, with any password. */
  honoursNoUidAuth: boolean;
  /** Kopano fills lpszVersion/ulCapabilities before authenticating, ZCP only after success (§2.7). */
  versionInFailureReply: boolean;
  /** CAP_COMPRESSION granted to any connection (ZCP 7.2 does, Kopano never does locally, §2.5). */
  grantsCompression: boolean;
  /** Built-in feature list for ComplementDefaultFeatures (§5.1). */
  builtinFeatures: readonly string[];
  /** ZCP <= 7.1 nests the response fields one level deeper (§1.6, generated/Zarafa719.logon.res.xml). */
  nestedResponses: boolean;
  /** HTTP "Server:" header value and whether X-Frame-Options is sent (gSOAP version dependent). */
  serverHeader: string;
  xFrameOptions: boolean;
  /** gSOAP >= 2.8.x writes an empty string element as <x/>, older ones as <x></x>. */
  selfClosingEmptyStrings: boolean;
}

const KOPANO_FEATURES = ['imap', 'pop3', 'mobile', 'outlook', 'webapp'] as const; // §5.1, KC >= 8.1.0
const ZARAFA_FEATURES = ['imap', 'pop3'] as const; // §5.1, ZCP common/ECFeatureList.h

export const KCERR = {
  NONE: 0,
  NOT_FOUND: 0x80000002,
  NO_ACCESS: 0x80000003, // 2147483651, kopano-chauthtok.md §10.2
  INVALID_PARAMETER: 0x80000014, // 2147483668, §10.4
  NO_SUPPORT: 0x80000018, // 2147483672, §7
  PLUGIN_ERROR: 0x8000001d, // 2147483677, Unix user plugin (§6)
  NOT_IMPLEMENTED: 0x8000001f, // 2147483679, LDAP user plugin (§6)
  LOGON_FAILED: 0x80000009, // 2147483657, tcp-b/tcp-c captures
  END_OF_SESSION: 0x80000010, // 2147483664, tcp-d2 capture
  INVALID_VERSION: 0x80000021, // 2147483681, tcp-g capture
  BAD_CHARWIDTH: 0x80000031, // 2147483697, tcp-f capture (Kopano >= 11.0.2)
  MAPI_E_BAD_CHARWIDTH: 0x80040103, // 2147746051, §4.1 (Kopano 9.0.5-9.0.13, 10.0.3-11.0.1)
} as const;

export const CAP = {
  COMPRESSION: 0x0001,
  LARGE_SESSIONID: 0x0010,
  MULTI_SERVER: 0x0040,
  ENHANCED_ICS: 0x0100,
  UNICODE: 0x0200,
  MSGLOCK: 0x0400,
} as const;

/** Client bits the server echoes back on success (§4.5; confirmed by real-client-logon: 0xE752 -> 40936). */
export const ECHOED_CLIENT_CAPS = CAP.MULTI_SERVER | CAP.ENHANCED_ICS | CAP.UNICODE | CAP.MSGLOCK;

export const PROFILES: Record<Profile, ProfileSpec> = {
  // All values observed on the real 11.0.2 server (kopano-11.0.2/ captures, §10).
  'kopano-11': {
    version: '0,11,0,2',
    latestCapabilities: 0x98a8, // 39080 in tcp-b; 39592 = | UNICODE in tcp-a
    badCharwidthEr: KCERR.BAD_CHARWIDTH,
    honoursNoRegisterSession: true,
    honoursNoUidAuth: true,
    versionInFailureReply: true,
    grantsCompression: false, // tcp-h: 0x1 ignored from loopback
    builtinFeatures: KOPANO_FEATURES,
    nestedResponses: false,
    serverHeader: 'gSOAP/2.8',
    xFrameOptions: true,
    selfClosingEmptyStrings: true,
  },
  // 9.0.5-9.0.13: MAPI_E_BAD_CHARWIDTH in er (§4.1, commit 02b302d57). Version string "0,9,0,13" is the
  // commified PROJECT_VERSION of the last 9.0 tag [INF: not observed]; caps 0x98A8 since 8.5.6 (§4.5).
  // gSOAP >= 2.8.73 like 11.x, so headers as 11.0.2 [INF].
  'kopano-9': {
    version: '0,9,0,13',
    latestCapabilities: 0x98a8,
    badCharwidthEr: KCERR.MAPI_E_BAD_CHARWIDTH,
    honoursNoRegisterSession: true,
    honoursNoUidAuth: true,
    versionInFailureReply: true,
    grantsCompression: false,
    builtinFeatures: KOPANO_FEATURES,
    nestedResponses: false,
    serverHeader: 'gSOAP/2.8',
    xFrameOptions: true,
    selfClosingEmptyStrings: true,
  },
  // 8.7.16 (stable 8.7): non-Unicode clients accepted, strings read as Windows-1252 (§4.1); flag 0x2 since
  // 8.4.91 (§4.3); caps 0x98A8 (§4.5). Version "0,8,7,16" by the 11.0.2 pattern [INF]; headers [INF].
  'kopano-8.7.16': {
    version: '0,8,7,16',
    latestCapabilities: 0x98a8,
    badCharwidthEr: null,
    honoursNoRegisterSession: true,
    honoursNoUidAuth: true,
    versionInFailureReply: true,
    grantsCompression: false,
    builtinFeatures: KOPANO_FEATURES,
    nestedResponses: false,
    serverHeader: 'gSOAP/2.8',
    xFrameOptions: true,
    selfClosingEmptyStrings: true,
  },
  // ZCP 7.2: version "0,7,2,0,48204" (§1.3), ZARAFA_LATEST_CAPABILITIES 0x18A8 (§4.5), failure reply without
  // lpszVersion and caps 0 (§2.7), ignores 0x2 (§4.3), compression whenever asked (§2.5), only imap/pop3 (§5.1).
  // System gSOAP 2.8 of its era: no X-Frame-Options and <x></x> for empty strings [INF].
  'zarafa-7.2': {
    version: '0,7,2,0,48204',
    latestCapabilities: 0x18a8,
    badCharwidthEr: null,
    honoursNoRegisterSession: false,
    honoursNoUidAuth: true,
    versionInFailureReply: false,
    grantsCompression: true,
    builtinFeatures: ZARAFA_FEATURES,
    nestedResponses: false,
    serverHeader: 'gSOAP/2.8',
    xFrameOptions: false,
    selfClosingEmptyStrings: false,
  },
  // ZCP 7.1.9: as 7.2 but nested <lpsLogonResponse>/<lpsUserGetResponse> (§1.6) and bundled gSOAP 2.7.13
  // (§1.6), hence "Server: gSOAP/2.7" [INF]. Version "0,7,1,9,44333" [INF: build number not observed].
  'zarafa-7.1': {
    version: '0,7,1,9,44333',
    latestCapabilities: 0x18a8,
    badCharwidthEr: null,
    honoursNoRegisterSession: false,
    honoursNoUidAuth: true,
    versionInFailureReply: false,
    grantsCompression: true,
    builtinFeatures: ZARAFA_FEATURES,
    nestedResponses: true,
    serverHeader: 'gSOAP/2.7',
    xFrameOptions: false,
    selfClosingEmptyStrings: false,
  },
  // ZCP 7.0: the logon has no ulFlags parameter and no szImpersonateUser (§1.6, ZCP 4f3877f1), so a local admin
  // uid on the unix socket is logged in as anyone with any password. Everything else as 7.1 (the same bundled
  // gSOAP 2.7 and nested responses), byte for byte; only the version differs. "0,7,0,15,37056" [INF: the last 7.0
  // release's number by the 7.x pattern; build number not observed].
  'zarafa-7.0': {
    version: '0,7,0,15,37056',
    latestCapabilities: 0x18a8,
    badCharwidthEr: null,
    honoursNoRegisterSession: false,
    honoursNoUidAuth: false,
    versionInFailureReply: false,
    grantsCompression: true,
    builtinFeatures: ZARAFA_FEATURES,
    nestedResponses: true,
    serverHeader: 'gSOAP/2.7',
    xFrameOptions: false,
    selfClosingEmptyStrings: false,
  },
};
