// Kopano / Zarafa result codes as they appear in `er` and `result` (kopano-soap.md §4.1). KCERR_x = 0x80000000 | n;
// ZCP's ZARAFA_E_* share the values. MAPI_E_BAD_CHARWIDTH is the HRESULT that Kopano 9.0.5–11.0.1 put in `er`.

export const ER_NONE: u32 = 0;
export const ER_LOGON_FAILED: u32 = 0x80000009;
export const ER_END_OF_SESSION: u32 = 0x80000010;
export const ER_INVALID_VERSION: u32 = 0x80000021;
export const ER_BAD_CHARWIDTH: u32 = 0x80000031;
export const MAPI_E_BAD_CHARWIDTH: u32 = 0x80040103;

const KCERR: u32 = 0x80000000;

/** The symbolic name of a result code, or "0x%08X" for one we do not know. */
export function errorName(er: u32): string {
  switch (er) {
    case ER_NONE: return "KCERR_NONE";
    case KCERR | 1: return "KCERR_UNKNOWN";
    case KCERR | 2: return "KCERR_NOT_FOUND";
    case KCERR | 3: return "KCERR_NO_ACCESS";
    case KCERR | 4: return "KCERR_NETWORK_ERROR";
    case KCERR | 5: return "KCERR_SERVER_NOT_RESPONDING";
    case KCERR | 7: return "KCERR_DATABASE_ERROR";
    case ER_LOGON_FAILED: return "KCERR_LOGON_FAILED";
    case ER_END_OF_SESSION: return "KCERR_END_OF_SESSION";
    case KCERR | 20: return "KCERR_INVALID_PARAMETER";
    case KCERR | 29: return "KCERR_PLUGIN_ERROR";
    case ER_INVALID_VERSION: return "KCERR_INVALID_VERSION";
    case KCERR | 37: return "KCERR_SSO_CONTINUE";
    case KCERR | 40: return "KCERR_UNABLE_TO_COMPLETE";
    case KCERR | 48: return "KCERR_UNCONFIGURED";
    case ER_BAD_CHARWIDTH: return "KCERR_BAD_CHARWIDTH";
    case MAPI_E_BAD_CHARWIDTH: return "MAPI_E_BAD_CHARWIDTH";
  }
  return hex32(er);
}

/** "0x" and eight upper-case hex digits. */
export function hex32(v: u32): string {
  const digits = "0123456789ABCDEF";
  let out = "0x";
  for (let shift = 28; shift >= 0; shift -= 4) out += digits.charAt(<i32>((v >> <u32>shift) & 0xf));
  return out;
}
