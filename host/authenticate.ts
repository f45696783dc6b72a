// One authentication through the guest, as pam_mapi.so does it: on one fresh instance, configure, validate and
// pin the server list and trust anchors, then authenticate with the Node transport; then wipe the instance.
// Every value from the guest is checked (guest-values.ts); every failure is a verdict that is not success.
import { loadGuestModule, newGuest, type GuestImports, type GuestInstance } from "./guest.js";
import {
  checkConfigError, checkLogLine, checkSettings, checkVerdict, type Level, type Settings, type Verdict,
} from "./guest-values.js";
import { parseServerList, type ServerUrl } from "./server-url.js";
import { loadTrustAnchors } from "./transport/trust.js";
import { SyncTransport, TransportWorker, type TransportOptions } from "./transport/sync-transport.js";
import type { PostRecord } from "./transport/types.js";
import { packageVersion } from "./package-root.js";

export interface LogLine { level: Level; message: string }
export interface Hooks {
  onLog?: (line: LogLine) => void;
  onPost?: (record: PostRecord) => void;
  onWaiting?: TransportOptions["onWaiting"];
}
export interface ConfigureRequest { service: string; args: string[]; config: Uint8Array }
export interface AuthenticationRequest extends ConfigureRequest { user: string; password: Uint8Array; rhost: string }

/** Where a run stopped: `configure` (the guest rejected the configuration), `servers` / `trust` (the host
 * rejected a server URL or the cafile/capath), `guest` (a trap or an invalid value from the guest). */
export type FailureStage = "configure" | "servers" | "trust" | "guest";

export type ConfigureOutcome =
  | { ok: true; settings: Settings; servers: ServerUrl[]; ca?: string[]; logs: LogLine[] }
  | { ok: false; stage: FailureStage; message: string; settings?: Settings; logs: LogLine[] };

export interface AuthenticationOutcome {
  verdict: Verdict;
  /** set when the host produced the verdict because a step before or around the guest's answer failed */
  failure?: { stage: FailureStage; message: string };
  settings?: Settings;
  posts: PostRecord[];
  logs: LogLine[];
}

export const userAgent = `pam_mapi/${packageVersion} (node)`;

function logSink(logs: LogLine[], hooks: Hooks) {
  return (level: unknown, message: unknown) => {
    const line = checkLogLine(level, message);
    logs.push(line);
    hooks.onLog?.(line);
  };
}

function refuseAllPosts() {
  return { tag: "err" as const, val: "no-such-server" as const };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A transport worker started ahead of the next runGuestCall (prestartTransport). */
let spare: TransportWorker | undefined;

/**
 * Starts the transport worker of the next runGuestCall now, so that its start-up (a fresh isolate loading
 * node:http, the largest part of a `pam-mapi check`) overlaps what the caller does first: reading the configuration,
 * loading the guest, reading the password. At most one waits; it holds nothing until a post.
 */
export function prestartTransport(): void {
  if (spare) return;
  try { spare = TransportWorker.start(); } catch { spare = undefined; } // started again, with its error, at the first post
}

/** `configure` on `guest`, then the host's own checks of what it returned. */
function configureOn(guest: GuestInstance, request: ConfigureRequest, logs: LogLine[]): ConfigureOutcome {
  let settings: Settings;
  try {
    settings = checkSettings(guest.exports.configure(request.service, request.args, request.config));
  } catch (e) {
    // jco throws the err variant of result<settings, string> as a ComponentError carrying `payload`.
    if (e !== null && typeof e === "object" && "payload" in e) {
      try {
        return { ok: false, stage: "configure", message: checkConfigError((e as { payload: unknown }).payload), logs };
      } catch (invalid) {
        return { ok: false, stage: "guest", message: errorText(invalid), logs };
      }
    }
    return { ok: false, stage: "guest", message: `the guest failed in configure: ${errorText(e)}`, logs };
  }
  let servers: ServerUrl[];
  try {
    servers = parseServerList(settings.servers);
  } catch (e) {
    return { ok: false, stage: "servers", message: errorText(e), settings, logs };
  }
  try {
    // The system store (about 140 certificates, tens of milliseconds to parse) is read only when a server speaks
    // TLS; cafile= and capath= are always read, so a wrong one is an error whatever the servers are.
    const needsTrust = settings.cafile !== "" || settings.capath !== "" || servers.some((s) => s.kind === "https");
    return { ok: true, settings, servers, ca: needsTrust ? loadTrustAnchors(settings.cafile, settings.capath) : undefined, logs };
  } catch (e) {
    return { ok: false, stage: "trust", message: errorText(e), settings, logs };
  }
}

/** `configure` alone, in a fresh instance that is wiped afterwards (the CLI's configuration checks). */
export async function runConfigure(request: ConfigureRequest, hooks: Hooks = {}): Promise<ConfigureOutcome> {
  await loadGuestModule();
  const logs: LogLine[] = [];
  let guest: GuestInstance | undefined;
  try {
    guest = newGuest({ post: refuseAllPosts, log: logSink(logs, hooks) });
    return configureOn(guest, request, logs);
  } catch (e) {
    return { ok: false, stage: "guest", message: `the guest failed in configure: ${errorText(e)}`, logs };
  } finally {
    guest?.wipe();
  }
}

/**
 * One guest call with the network, on one fresh instance as pam_mapi.so makes it: `configure` (its `post` reaches no
 * server), the server list pinned, then `call` with the Node transport behind `post`; the verdict checked, the
 * instance wiped. Every buffer in `secrets` is zeroed before this returns, whatever happens. The one shape of every
 * operation (authenticate, chauthtok).
 */
export async function runGuestCall(request: ConfigureRequest, hooks: Hooks, secrets: Uint8Array[],
  call: (guest: GuestInstance) => unknown): Promise<AuthenticationOutcome> {
  let guest: GuestInstance | undefined;
  let transport: SyncTransport | undefined;
  let early: TransportWorker | undefined;
  const logs: LogLine[] = [];
  try {
    // The worker starts first (unless the caller started it earlier) so that its start-up overlaps loading the
    // guest and `configure`.
    prestartTransport();
    early = spare;
    spare = undefined;
    await loadGuestModule();
    // The import is bound at instantiation; what it reaches is switched once the servers are pinned.
    let post: GuestImports["post"] = refuseAllPosts;
    try {
      guest = newGuest({ post: (server, body) => post(server, body), log: logSink(logs, hooks) });
    } catch (e) {
      const message = `the guest failed: ${errorText(e)}`;
      return { verdict: { code: "service-err", reason: message, user: "" }, failure: { stage: "guest", message }, posts: [], logs };
    }
    const configured = configureOn(guest, request, logs);
    if (!configured.ok) {
      return {
        verdict: { code: "service-err", reason: configured.message, user: "" },
        failure: { stage: configured.stage, message: configured.message },
        settings: configured.settings, posts: [], logs,
      };
    }
    const pinned = new SyncTransport({
      servers: configured.servers, timeoutMs: configured.settings.timeoutMs, ca: configured.ca, userAgent,
      onPost: hooks.onPost, onWaiting: hooks.onWaiting, worker: early,
    });
    early = undefined;
    transport = pinned;
    post = (server, body) => pinned.post(server, body);
    try {
      return { verdict: checkVerdict(call(guest)), settings: configured.settings, posts: pinned.records, logs };
    } catch (e) {
      const message = `the guest failed: ${errorText(e)}`;
      return {
        verdict: { code: "service-err", reason: message, user: "" },
        failure: { stage: "guest", message }, settings: configured.settings, posts: pinned.records, logs,
      };
    }
  } finally {
    guest?.wipe();
    transport?.close();
    early?.close();
    for (const secret of secrets) secret.fill(0);
  }
}

/** The whole check. The password buffer is zeroed before this returns, whatever happens. */
export function runAuthentication(request: AuthenticationRequest, hooks: Hooks = {}): Promise<AuthenticationOutcome> {
  return runGuestCall(request, hooks, [request.password], (guest) =>
    guest.exports.authenticate(request.service, request.user, request.password, request.args, request.config,
      request.rhost));
}
