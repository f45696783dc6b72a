// The emulator's user database and the per-user feature lists the server computes from it.
import { readFileSync } from 'node:fs';

export interface EmulatorUser {
  name: string;
  password: string;
  id?: number;
  fullName?: string;
  email?: string;
  active?: boolean;
  admin?: number;
  hidden?: number;
  capacity?: number;
  enabledFeatures?: string[];
  disabledFeatures?: string[];
}

/** Which kopano-server user_plugin the emulator plays for setUser (kopano-chauthtok.md §6). */
export type UserPlugin = 'db' | 'ldap' | 'unix';
/** auth_method: with `pam` the server checks logons elsewhere, so a setUser password never logs in (§3). */
export type AuthMethod = 'plugin' | 'pam';

export interface UserDb {
  userPlugin?: UserPlugin;
  authMethod?: AuthMethod;
  defaultDisabledFeatures?: string[];
  users: EmulatorUser[];
}

/** The built-in SYSTEM account as the real 11.0.2 server describes it (real-client-kopano-admin-conversation.txt). */
export const SYSTEM_USER_ID = 2;
export const SYSTEM_USER_NAME = 'SYSTEM';

export function loadUserDb(path: string): UserDb {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as UserDb;
  if (!parsed || !Array.isArray(parsed.users)) throw new Error(`${path}: expected { "users": [...] }`);
  for (const u of parsed.users) {
    if (typeof u.name !== 'string' || typeof u.password !== 'string') {
      throw new Error(`${path}: every user needs a string name and password`);
    }
  }
  return parsed;
}

/** A user with every optional field filled in; ids start at 3 like Kopano's DB plugin (1 = everyone, 2 = SYSTEM). */
export type ResolvedUser = Required<EmulatorUser>;

export class UserDirectory {
  private readonly users: ResolvedUser[];
  readonly defaultDisabledFeatures: string[];

  constructor(db: UserDb) {
    // disabled_features default "imap pop3" (KC ECServer.cpp:1152, kopano-soap.md §5.1)
    this.defaultDisabledFeatures = db.defaultDisabledFeatures ?? ['imap', 'pop3'];
    let nextId = 3;
    const taken = new Set(db.users.map((u) => u.id).filter((id): id is number => id !== undefined));
    this.users = db.users.map((u) => {
      let id = u.id;
      if (id === undefined) {
        while (taken.has(nextId)) nextId++;
        id = nextId++;
      }
      return {
        name: u.name,
        password: u.password,
        id,
        fullName: u.fullName ?? u.name,
        email: u.email ?? '',
        active: u.active ?? true,
        admin: u.admin ?? 0,
        hidden: u.hidden ?? 0,
        capacity: u.capacity ?? 0,
        enabledFeatures: u.enabledFeatures ?? [],
        disabledFeatures: u.disabledFeatures ?? [],
      };
    });
  }

  /** Login names are case-insensitive (kopano-soap.md §10: "ALICE" works). */
  byName(name: string): ResolvedUser | undefined {
    const wanted = name.toLowerCase();
    return this.users.find((u) => u.name.toLowerCase() === wanted);
  }

  byId(id: number): ResolvedUser | undefined {
    return this.users.find((u) => u.id === id);
  }
}

/**
 * ECUserManagement::ComplementDefaultFeatures (kopano-soap.md §5.1): start with every built-in feature enabled,
 * move the server's disabled_features to disabled, then apply the user's explicit enables and disables.
 * Both lists come out sorted, as from the server's std::set: the 11.0.2 capture of a user with imap enabled and
 * mobile disabled lists "imap outlook webapp" and "mobile pop3" (kopano-chauthtok.md §9, t01 getUser).
 */
export function complementDefaultFeatures(
  user: ResolvedUser,
  builtin: readonly string[],
  serverDisabled: readonly string[],
): { enabled: string[]; disabled: string[] } {
  const state = new Map<string, boolean>();
  for (const f of builtin) state.set(f, !serverDisabled.includes(f));
  for (const f of user.enabledFeatures) state.set(f, true);
  for (const f of user.disabledFeatures) state.set(f, false);
  const enabled: string[] = [];
  const disabled: string[] = [];
  for (const [f, on] of state) (on ? enabled : disabled).push(f);
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  return { enabled: enabled.sort(byteOrder), disabled: disabled.sort(byteOrder) };
}
