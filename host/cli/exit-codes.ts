// The documented exit codes of `pam-mapi` (also in `pam-mapi --help`).
export const EXIT = {
  /** the password was accepted / the configuration is valid / the emulator stopped cleanly */
  ok: 0,
  /** authentication denied: wrong password, unknown or inactive user, required feature not enabled */
  denied: 1,
  /** the command line was wrong */
  usage: 2,
  /** the configuration (file, module arguments, server URLs, cafile/capath) is wrong */
  config: 3,
  /** no server could be asked: refused, timeout, TLS, HTTP or protocol failure */
  unavailable: 4,
  /** the guest or the host failed internally */
  internal: 5,
  /** interrupted at the password prompt */
  interrupted: 130,
} as const;

export const EXIT_CODE_HELP = `Exit codes:
  0  success: password accepted, configuration valid
  1  authentication denied (wrong password, unknown or inactive user, feature not enabled)
  2  usage error
  3  configuration error
  4  servers unavailable
  5  internal error
  130 interrupted at the password prompt`;
