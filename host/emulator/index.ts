// Kopano/Zarafa server emulator: the test and demo server for pam_mapi. It answers ns:logon, ns:logoff and
// ns:getUser byte for byte like the captured servers (see docs/emulator.md), over http, https and unix sockets.
import net from 'node:net';
import tls from 'node:tls';
import { chmodSync, unlinkSync } from 'node:fs';
import { claimUnixPath, UnixPathRefused } from './unix-socket-path.js';
import { PROFILES, type Profile } from './profiles.js';
import { UserDirectory, complementDefaultFeatures, loadUserDb, type AuthMethod, type EmulatorUser, type ResolvedUser, type UserDb, type UserPlugin } from './users.js';
import { KCmdService } from './kcmd-service.js';
import { serveConnection, type ListenerKind, type RecordedRequest } from './connection.js';
import type { FaultMode } from './faults.js';

export type { Profile, EmulatorUser, UserDb, FaultMode, RecordedRequest, UserPlugin, AuthMethod, ResolvedUser };
export { loadUserDb, UnixPathRefused };

export type Listen =
  | { http: { host?: string; port?: number } }
  | { https: { host?: string; port?: number; key: string | Buffer; cert: string | Buffer } }
  | { unix: { path: string; mode?: number } };

export interface EmulatorOptions {
  profile?: Profile;
  users: UserDb;
  listen: Listen[];
  fault?: FaultMode;
  /** uids logged in without a password over the unix socket (local_admin_users; default [0] = root) */
  localAdminUsers?: number[];
  /** user_plugin for setUser (default: the user db's userPlugin, else db) */
  userPlugin?: UserPlugin;
  /** auth_method (default: the user db's authMethod, else plugin) */
  authMethod?: AuthMethod;
  log?: (line: string) => void;
}

export interface Emulator {
  urls: string[];
  requests: RecordedRequest[];
  setFault(f: FaultMode): void;
  openSessions(): number;
  /** A copy of a user's record as stored now (password included), or undefined. */
  user(name: string): ResolvedUser | undefined;
  /** Every user with the features the server reports for them (no passwords), for the banner. */
  listUsers(): Array<{ name: string; active: boolean; enabled: string[]; disabled: string[] }>;
  close(): Promise<void>;
}

function listenOn(server: net.Server, args: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(args, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlHost(host: string, https: boolean): string {
  if (https && (host === '127.0.0.1' || host === 'localhost')) return 'localhost'; // the test certificate's name
  return host.includes(':') ? `[${host}]` : host;
}

export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const spec = PROFILES[options.profile ?? 'kopano-11'];
  if (!spec) throw new Error(`unknown profile ${options.profile}`);
  const log = options.log ?? (() => {});
  const directory = new UserDirectory(options.users);
  const service = new KCmdService(spec, directory, options.localAdminUsers ?? [0], {
    userPlugin: options.userPlugin ?? options.users.userPlugin ?? 'db',
    authMethod: options.authMethod ?? options.users.authMethod ?? 'plugin',
  });
  let fault: FaultMode = options.fault ?? { kind: 'none' };
  const requests: RecordedRequest[] = [];
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const unixPaths: string[] = [];
  const urls: string[] = [];

  const ctx = {
    service,
    spec,
    identity: { serverHeader: spec.serverHeader, xFrameOptions: spec.xFrameOptions },
    fault: () => fault,
    record: (r: RecordedRequest) => requests.push(r),
    log,
  };
  const track = (kind: ListenerKind) => (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, kind, ctx);
  };

  try {
    for (const l of options.listen) {
      if ('http' in l) {
        const host = l.http.host ?? '127.0.0.1';
        const server = net.createServer(track('http'));
        servers.push(server);
        await listenOn(server, { host, port: l.http.port ?? 0 });
        urls.push(`http://${urlHost(host, false)}:${(server.address() as net.AddressInfo).port}/`);
      } else if ('https' in l) {
        const host = l.https.host ?? '127.0.0.1';
        const server = tls.createServer({ key: l.https.key, cert: l.https.cert }, track('https'));
        server.on('tlsClientError', () => {});
        servers.push(server);
        await listenOn(server, { host, port: l.https.port ?? 0 });
        urls.push(`https://${urlHost(host, true)}:${(server.address() as net.AddressInfo).port}/`);
      } else {
        const { path, mode } = l.unix;
        await claimUnixPath(path);
        const server = net.createServer(track('unix'));
        servers.push(server);
        await listenOn(server, { path });
        unixPaths.push(path);
        if (mode !== undefined) chmodSync(path, mode);
        urls.push(`file://${path}`);
      }
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  log(`emulator ${options.profile ?? 'kopano-11'} listening on ${urls.join(' ')}`);

  return {
    urls,
    requests,
    setFault(f: FaultMode) {
      fault = f;
    },
    openSessions: () => service.sessions.size,
    user(name: string) {
      const u = directory.byName(name);
      return u ? structuredClone(u) : undefined;
    },
    listUsers() {
      return options.users.users.map((entry) => {
        const u = directory.byName(entry.name)!;
        const f = complementDefaultFeatures(u, spec.builtinFeatures, directory.defaultDisabledFeatures);
        return { name: u.name, active: u.active, enabled: f.enabled, disabled: f.disabled };
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const p of unixPaths) {
        try {
          unlinkSync(p);
        } catch {
          /* already gone */
        }
      }
    },
  };
}
