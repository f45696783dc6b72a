// One password-change pass through the guest's `chauthtok` export, as pam_mapi.so's pam_sm_chauthtok runs it:
// configure in a fresh instance (server list pinned), then chauthtok in another fresh instance with the Node
// transport. Both passwords are zeroed before this returns, whatever happens.
import { newGuest, type GuestInstance } from "./guest.js";
import { checkLogLine, checkVerdict, type Verdict } from "./guest-values.js";
import { runConfigure, userAgent, type AuthenticationOutcome, type ConfigureRequest, type Hooks, type LogLine } from "./authenticate.js";
import { SyncTransport } from "./transport/sync-transport.js";

export type Phase = "prelim" | "update";

export interface ChangeRequest extends ConfigureRequest {
  phase: Phase;
  user: string;
  oldPassword: Uint8Array;
  /** ignored (and may be empty) in the prelim phase */
  newPassword: Uint8Array;
  rhost: string;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function runChauthtok(request: ChangeRequest, hooks: Hooks = {}): Promise<AuthenticationOutcome> {
  try {
    const configured = await runConfigure(request, hooks);
    if (!configured.ok) {
      return {
        verdict: { code: "service-err", reason: configured.message, user: "" },
        failure: { stage: configured.stage, message: configured.message },
        settings: configured.settings, posts: [], logs: configured.logs,
      };
    }
    const logs: LogLine[] = [...configured.logs];
    const transport = new SyncTransport({
      servers: configured.servers, timeoutMs: configured.settings.timeoutMs, ca: configured.ca, userAgent,
      onPost: hooks.onPost, onWaiting: hooks.onWaiting,
    });
    let guest: GuestInstance | undefined;
    try {
      guest = newGuest({
        post: (server, body) => transport.post(server, body),
        log: (level, message) => {
          const line = checkLogLine(level, message);
          logs.push(line);
          hooks.onLog?.(line);
        },
      });
      const raw = guest.exports.chauthtok(request.service, request.phase, request.user, request.oldPassword,
        request.newPassword, request.args, request.config, request.rhost);
      const verdict: Verdict = checkVerdict(raw);
      return { verdict, settings: configured.settings, posts: transport.records, logs };
    } catch (e) {
      const message = `the guest failed: ${errorText(e)}`;
      return {
        verdict: { code: "service-err", reason: message, user: "" },
        failure: { stage: "guest", message }, settings: configured.settings, posts: transport.records, logs,
      };
    } finally {
      guest?.wipe();
      transport.close();
    }
  } finally {
    request.oldPassword.fill(0);
    request.newPassword.fill(0);
  }
}
