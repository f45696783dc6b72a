// From a verdict (and what the transport saw) to what an administrator needs: the PAM result, the cause in
// plain words, and what to do about it; plus the exit code.
import type { AuthenticationOutcome } from "../authenticate.js";
import type { Code } from "../guest-values.js";
import type { PostRecord, TransportErrorName } from "../transport/types.js";
import { EXIT } from "./exit-codes.js";
import { configFix, locateConfigError } from "./config-advice.js";

export const PAM_NAMES: Record<Code, string> = {
  "success": "PAM_SUCCESS",
  "auth-err": "PAM_AUTH_ERR",
  "perm-denied": "PAM_PERM_DENIED",
  "authinfo-unavail": "PAM_AUTHINFO_UNAVAIL",
  "ignore": "PAM_IGNORE",
  "service-err": "PAM_SERVICE_ERR",
  "authtok-err": "PAM_AUTHTOK_ERR",
  "try-again": "PAM_TRY_AGAIN",
};

export interface Advice { pam: string; cause: string; fix?: string; exitCode: number }

const FEATURES = ["imap", "pop3", "mobile", "outlook", "webapp"];

/** Why a server could not be used, by transport error. */
const TRANSPORT_ADVICE: Record<TransportErrorName, { cause: string; fix: string }> = {
  "refused": {
    cause: "nothing accepted the connection (refused, no such socket file, or unreachable)",
    fix: "check that kopano-server (or zarafa-server) runs and that socket= matches server_listen / server_listen_tls / server_pipe_name in server.cfg; for a unix socket, that this user may open it",
  },
  "resolve": { cause: "the host name in socket= does not resolve", fix: "check the host name in socket= (and /etc/hosts or DNS)" },
  "timeout": {
    cause: "the server did not answer within the deadline (timeout=, connect included)",
    fix: "check the server's load and any firewall dropping packets; raise timeout= only if the server is merely slow",
  },
  "tls": {
    cause: "the TLS handshake failed (an untrusted, expired or misnamed certificate, or a server that offers less than TLS 1.2)",
    fix: "set cafile= (or capath=) to the CA that signed the server's certificate and use the host name the certificate names; `openssl s_client -connect HOST:PORT -CAfile FILE` shows the chain",
  },
  "http-status": {
    cause: "the server answered with an HTTP status other than 200 or 500 (redirects are not followed)",
    fix: "socket= points at something that is not kopano-server (a web server or proxy?); use the server's own port (236/237) or socket",
  },
  "too-large": { cause: "the reply is larger than the module accepts (1 MiB)", fix: "a logon reply is a few KiB: socket= does not point at kopano-server" },
  "closed": {
    cause: "the connection closed before the reply was complete",
    fix: "check the server's log (kopano-server crashed or restarted?) and that socket= uses http:// on 236 and https:// on 237",
  },
  "malformed": {
    cause: "the reply was not acceptable HTTP (bad headers, bad chunking, or a compressed body)",
    fix: "socket= does not point at kopano-server, or something in between rewrites the reply",
  },
  "no-such-server": { cause: "the guest named a server that is not in the list", fix: "this is a bug in pam_mapi; please report it" },
  "internal": { cause: "the host's transport failed internally", fix: "re-run with --verbose and report the error" },
};

export function adviseOnTransport(error: TransportErrorName) {
  return TRANSPORT_ADVICE[error];
}

/** Fixes for the precise causes (the words of host/transport/cause.ts and the module's log line). */
const CAUSE_FIXES: Array<[RegExp, string]> = [
  [/^no such socket \(ENOENT\)/, "kopano-server is not running, or socket= names the wrong path: compare it with server_pipe_name in server.cfg (`ls -l` the path)"],
  [/^permission denied \(EACCES\)/, "this user may not open the socket: run as a user in the socket's group (Apache: add www-data to the group that owns the socket, e.g. `adduser www-data kopano`), or use http(s):// instead"],
  [/^connection refused \(ECONNREFUSED\)/, "nothing listens there: start kopano-server (or zarafa-server) and compare socket= with server_listen / server_listen_tls / server_pipe_name in server.cfg"],
  [/^this port speaks plain HTTP/, "use http:// for this port, or https:// with the server's TLS port (server_listen_tls, usually 237)"],
  [/^TLS: (self-signed certificate|unable to get local issuer certificate|unable to get issuer certificate|unable to verify the first certificate|self-signed certificate in certificate chain)/,
    "set cafile= (or capath=) to the CA that signed the server's certificate; `openssl s_client -connect HOST:PORT -CAfile FILE` shows the chain"],
  [/^TLS: (hostname|IP address) mismatch/, "use in socket= the host name or address the certificate names (`openssl s_client -connect HOST:PORT </dev/null | openssl x509 -noout -ext subjectAltName`), or reissue the certificate for it"],
  [/^TLS: certificate has expired/, "renew the server's certificate (server_ssl_key_file in server.cfg)"],
  [/^TLS: certificate is not yet valid/, "check the clocks of this machine and of the server"],
  [/^TLS: (tlsv1 alert protocol version|unsupported protocol)/, "the server offers less than TLS 1.2: set server_tls_min_proto (Kopano) or upgrade it; pam_mapi never uses TLS 1.1 or older"],
  [/^HTTP status 3\d\d/, "the server redirects, and redirects are never followed: socket= points at a web server or proxy; use kopano-server's own port (236/237) or socket"],
];

/** Cause and fix for one failed post: the precise cause from the transport, the fix that fits it. */
export function adviseOnPost(p: PostRecord): { cause: string; fix: string } {
  const general = TRANSPORT_ADVICE[p.error ?? "internal"];
  const cause = p.detail ? `server ${p.server + 1} (${p.url}): ${p.detail}` : general.cause;
  const fix = CAUSE_FIXES.find(([pattern]) => pattern.test(p.detail ?? ""))?.[1] ?? general.fix;
  return { cause, fix };
}

/** `configPath`: the file the configuration came from, so its errors read PATH:LINE. */
export function advise(outcome: AuthenticationOutcome, user: string, configPath = ""): Advice {
  const { verdict, failure, posts } = outcome;
  const pam = PAM_NAMES[verdict.code];
  if (failure) {
    switch (failure.stage) {
      case "configure":
        return { pam, exitCode: EXIT.config,
          cause: `configuration error: ${failure.message ? locateConfigError(failure.message, configPath) : "(the guest gave no message)"}`,
          fix: configFix(failure.message) };
      case "servers":
        return { pam, exitCode: EXIT.config, cause: failure.message,
          fix: "socket= takes file:///path/to/server.sock, http://host[:port]/ or https://host[:port]/, comma-separated" };
      case "trust":
        return { pam, exitCode: EXIT.config, cause: `configuration error: ${failure.message}`,
          fix: "cafile= must name a PEM file with the CA certificate(s), capath= a directory of PEM certificates, both readable by the user that runs the PAM service (pam_mapi.so checks them before it asks for a password)" };
      case "guest":
        return { pam, exitCode: EXIT.internal, cause: failure.message,
          fix: "this is a bug in pam_mapi (or build/jco is stale: npm run build:guest); please report it with this output" };
    }
  }
  const feature = FEATURES.find((f) => new RegExp(`\\b${f}\\b`, "i").test(verdict.reason));
  const featureProblem = /feature/i.test(verdict.reason);
  switch (verdict.code) {
    case "success":
      return { pam, exitCode: EXIT.ok, cause: `the server accepted the password for ${verdict.user || user}` };
    case "perm-denied":
    case "auth-err":
      if (featureProblem || verdict.code === "perm-denied") {
        const which = feature ?? "FEATURE";
        // As pam_sm_authenticate: PAM_AUTH_ERR (pam_entry.c's conclude); only the account step says PERM_DENIED.
        return { pam: PAM_NAMES["auth-err"], exitCode: EXIT.denied,
          cause: `the password is right, but the required feature${feature ? ` ${feature}` : ""} is not enabled for ${user} ` +
            "(the auth step returns PAM_AUTH_ERR; the account step would return PAM_PERM_DENIED)",
          fix: `kopano-admin -u ${user} --enable-feature ${which}` + (feature ? "" : " (one of the features in service=)") };
      }
      if (posts.length === 0) {
        return { pam, exitCode: EXIT.denied, cause: "rejected without asking a server: empty password or invalid user name",
          fix: "type the password; a user name must be UTF-8 without control characters" };
      }
      return { pam, exitCode: EXIT.denied,
        cause: "wrong password, unknown user or inactive user (the server does not tell them apart)",
        fix: `check the password; \`kopano-admin --details ${user}\` shows whether the account exists and is active` };
    case "authinfo-unavail":
    case "ignore": {
      const failed = posts.filter((p) => p.error);
      const last = failed[failed.length - 1];
      const unusable = verdict.code === "ignore" ? " (ignore_unavailable: the PAM stack falls through to the next module)" : "";
      if (last?.error) {
        const t = adviseOnPost(last);
        return { pam, exitCode: EXIT.unavailable, cause: `no server could be asked: ${t.cause}${unusable}`, fix: t.fix };
      }
      return { pam, exitCode: EXIT.unavailable,
        cause: `the server answered, but not with a usable logon reply (${verdict.reason})${unusable}`,
        fix: "see the debug lines above: a SOAP fault or an unexpected er usually means a server version pam_mapi does not know; check the server's log" };
    }
    case "authtok-err":
    case "try-again": // only from chauthtok (pam-mapi passwd), never from authenticate
    case "service-err":
      if (/older than 7\.1: it ignores NO_UID_AUTH/.test(verdict.reason)) {
        return { pam, exitCode: EXIT.config, cause: verdict.reason,
          fix: "point socket= for this server at its http:// or https:// port instead of its unix socket" };
      }
      return { pam, exitCode: EXIT.internal, cause: verdict.reason || "the guest reported an internal error",
        fix: "re-run with --verbose; if it persists, report it with this output" };
  }
}
