// One password-change pass through the guest's `chauthtok` export, as pam_mapi.so's pam_sm_chauthtok runs it:
// configure in a fresh instance (server list pinned), then chauthtok in another fresh instance with the Node
// transport. Both passwords are zeroed before this returns, whatever happens.
import { runGuestCall, type AuthenticationOutcome, type ConfigureRequest, type Hooks } from "./authenticate.js";

export type Phase = "prelim" | "update";

export interface ChangeRequest extends ConfigureRequest {
  phase: Phase;
  user: string;
  oldPassword: Uint8Array;
  /** ignored (and may be empty) in the prelim phase */
  newPassword: Uint8Array;
  rhost: string;
}

/** One pass (prelim or update). Both password buffers are zeroed before this returns, whatever happens. */
export function runChauthtok(request: ChangeRequest, hooks: Hooks = {}): Promise<AuthenticationOutcome> {
  return runGuestCall(request, hooks, [request.oldPassword, request.newPassword], (guest) =>
    guest.exports.chauthtok(request.service, request.phase, request.user, request.oldPassword, request.newPassword,
      request.args, request.config, request.rhost));
}
