// The PAM result policy's vocabulary (design.md, "PAM results"). The host maps these codes to PAM_* values.

export const enum Code {
  Success = 0,
  AuthErr = 1,
  PermDenied = 2,
  AuthinfoUnavail = 3,
  Ignore = 4,
  ServiceErr = 5,
  /** chauthtok: the change was refused or not confirmed; the reason is written for the user */
  AuthtokErr = 6,
  TryAgain = 7,
}

export class Verdict {
  constructor(public code: Code, public reason: string, public user: string = "") {}
}
