// Server sessions. A session is bound to its caller like kopano-server's session_ip_check: the source IP over TCP,
// the peer process id over the unix socket (kopano-soap.md §10, captures unix-d vs unix-d2-samepid).
import { randomBytes } from 'node:crypto';

export interface Session {
  id: bigint;
  userId: number;
  boundTo: string;
  /** ENHANCED_ICS (0x100) switches every reply of the session to chunked framing (§2.5). */
  chunked: boolean;
  /** CAP_COMPRESSION granted (ZCP only, §2.5). */
  compressed: boolean;
}

export function randomSessionId(large: boolean): bigint {
  // 64-bit ids with CAP_LARGE_SESSIONID, else masked to 32 bits (§1.3)
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE() & (large ? 0xffffffffffffffffn : 0xffffffffn);
    if (id !== 0n) return id;
  }
}

export class SessionTable {
  private readonly sessions = new Map<bigint, Session>();

  create(fields: Omit<Session, 'id'>, large: boolean): Session {
    let id = randomSessionId(large);
    while (this.sessions.has(id)) id = randomSessionId(large);
    const s = { id, ...fields };
    this.sessions.set(id, s);
    return s;
  }

  /** The session if it exists and belongs to this caller; otherwise undefined (END_OF_SESSION). */
  validate(id: bigint, caller: string): Session | undefined {
    const s = this.sessions.get(id);
    return s && s.boundTo === caller ? s : undefined;
  }

  remove(id: bigint): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}
