// The effective settings of one PAM service, the configuration reader's result.
export const DEFAULT_SERVER = "file:///var/run/kopano/server.sock";

export class Settings {
  servers: Array<string> = [DEFAULT_SERVER];
  /** Kopano features of which the user needs at least one; empty = no feature check. */
  features: Array<string> = [];
  timeoutMs: u32 = 10000;
  cafile: string = "";
  capath: string = "";
  tryFirstPass: bool = false;
  useFirstPass: bool = false;
  ignoreUnavailable: bool = false;
  quiet: bool = false;
  debug: bool = false;
  /** chauthtok: take the new password from an earlier module (pam_pwquality) instead of prompting. */
  useAuthtok: bool = false;
}

export class ConfigResult {
  settings: Settings | null = null;
  error: string = "";
}
