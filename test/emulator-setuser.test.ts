// The emulator's ns:setUser against a real Kopano 11.0.2 server's bytes and semantics (shared/docs/
// kopano-chauthtok.md §2, §6, §9, §10): the captured requests replayed, replies compared byte for byte (session
// ids, server GUID and AB entryids substituted), and the user records inspected after every "not a patch" case.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator, type EmulatorOptions } from '../host/emulator/index.js';
import { chauthtokCaptures, pwtestUsers, type Capture } from './helpers/chauthtok-captures.js';

const captures = chauthtokCaptures();
function capture(name: string): Capture {
  const c = captures.get(name);
  if (!c) throw new Error(`no capture ${name} in kopano-chauthtok.md`);
  return c;
}

class Client {
  private buf = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | undefined;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }
  static open(target: { port: number; localAddress?: string } | { path: string }): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = 'path' in target ? net.connect(target.path) : net.connect({ host: '127.0.0.1', ...target });
      s.once('connect', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  exchange(req: Buffer | string): Promise<Buffer> {
    this.socket.write(req);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no complete reply within 5 s')), 5000);
      const check = () => {
        const end = this.buf.indexOf('\r\n\r\n');
        const len = end < 0 ? NaN : Number(/\r\nContent-Length: (\d+)/i.exec(this.buf.subarray(0, end).toString('latin1'))?.[1]);
        if (end >= 0 && this.buf.length >= end + 4 + len) {
          const out = this.buf.subarray(0, end + 4 + len);
          this.buf = this.buf.subarray(end + 4 + len);
          clearTimeout(timer);
          this.wake = undefined;
          resolve(out);
        } else if (this.closed) {
          clearTimeout(timer);
          reject(new Error('connection closed'));
        }
      };
      this.wake = check;
      check();
    });
  }
  waitClosed(): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(this.closed), 2000);
      if (this.closed) return resolve(true);
      this.wake = () => this.closed && (clearTimeout(t), resolve(true));
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

/** A capture with its session id / GUID / entryid values replaced, and Content-Length recomputed. */
function rewrite(raw: Buffer, subs: [string, string][]): Buffer {
  const text = raw.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  let head = text.slice(0, split);
  let body = text.slice(split + 4);
  for (const [from, to] of subs) body = body.split(from).join(to);
  head = head.replace(/Content-Length: \d+/, `Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${head}\r\n\r\n${body}`, 'utf8');
}

const sidOf = (reply: Buffer) => /<ulSessionId>(\d+)<\/ulSessionId>/.exec(reply.toString())![1];
const guidOf = (reply: Buffer) => /<sServerGuid>([^<]*)<\/sServerGuid>/.exec(reply.toString())![1];
const entryIdOf = (reply: Buffer) => /<sUserId>([^<]*)<\/sUserId>/.exec(reply.toString())![1];
const resultOf = (reply: Buffer) => /<(?:result|er)>(\d+)<\/(?:result|er)>/.exec(reply.toString())?.[1];

/** The t01 envelope around another lpsUser (for the captures the document shows only in part). */
function setUserRequest(sid: string, lpsUser: string): Buffer {
  const t01 = capture('t01-ok-tcp-pwtest1-3-setUser.req.raw').raw.toString('utf8');
  const body = t01.slice(t01.indexOf('\r\n\r\n') + 4)
    .replace(/<ns:setUser>[\s\S]*<\/ns:setUser>/, `<ns:setUser><ulSessionId>${sid}</ulSessionId>${lpsUser}</ns:setUser>`);
  return rewrite(Buffer.from(`${t01.slice(0, t01.indexOf('\r\n\r\n'))}\r\n\r\n${body}`), []);
}

/** The t01 logon for another user / password / flags. */
function logonRequest(user: string, password: string, flags = 1): Buffer {
  const t01 = capture('t01-ok-tcp-pwtest1-1-logon.req.raw').raw;
  return rewrite(t01, [['<szUsername>pwtest1</szUsername>', `<szUsername>${user}</szUsername>`],
    ['<szPassword>Old-pass1</szPassword>', `<szPassword>${password}</szPassword>`], ['<ulFlags>1</ulFlags>', `<ulFlags>${flags}</ulFlags>`]]);
}

const SAFE_NUMBERS = '<ulIsAdmin>4294967295</ulIsAdmin><ulIsABHidden>4294967295</ulIsABHidden><ulCapacity>4294967295</ulCapacity><ulObjClass>4294967295</ulObjClass>';
const T01_FEATURES = '<lpsMVPropmap><item><ulPropId>1739788318</ulPropId><sValues SOAP-ENC:arrayType="xsd:string[3]"><item>imap</item><item>outlook</item><item>webapp</item></sValues></item><item><ulPropId>1739853854</ulPropId><sValues SOAP-ENC:arrayType="xsd:string[2]"><item>mobile</item><item>pop3</item></sValues></item></lpsMVPropmap>';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'pam-mapi-setuser-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function withEmulator<T>(
  opts: Partial<EmulatorOptions>,
  fn: (emu: Emulator, tcp: { port: number }, unix: { path: string }) => Promise<T>,
): Promise<T> {
  const path = join(scratch, `k-${Math.random().toString(36).slice(2)}.sock`);
  const emu = await startEmulator({ users: pwtestUsers(), listen: [{ http: {} }, { unix: { path } }], ...opts });
  try {
    return await fn(emu, { port: Number(new URL(emu.urls[0]).port) }, { path });
  } finally {
    await emu.close();
  }
}

/** logon (flags 1) on `c`; the session id. */
async function logon(c: Client, user: string, password = 'Old-pass1', flags = 1): Promise<string> {
  const r = await c.exchange(logonRequest(user, password, flags));
  expect(resultOf(r)).toBe('0');
  return sidOf(r);
}

async function logsOn(tcp: { port: number }, user: string, password: string): Promise<boolean> {
  const c = await Client.open(tcp);
  try {
    return resultOf(await c.exchange(logonRequest(user, password, 3))) === '0';
  } finally {
    c.close();
  }
}

describe('setUser replayed from the real server (kopano-chauthtok.md §9)', () => {
  it('t01: logon, getUser, setUser, logoff byte for byte; the new password works, the old one fails, nothing else changed', async () => {
    await withEmulator({}, async (emu, tcp) => {
      const before = emu.user('pwtest1')!;
      const c = await Client.open(tcp);
      const logonCap = capture('t01-ok-tcp-pwtest1-1-logon.resp.raw');
      const l = await c.exchange(capture('t01-ok-tcp-pwtest1-1-logon.req.raw').raw);
      const capSid = sidOf(logonCap.raw);
      const sid = sidOf(l);
      const guid = guidOf(l);
      expect(l).toEqual(rewrite(logonCap.raw, [[capSid, sid], [guidOf(logonCap.raw), guid]]));

      const g = await c.exchange(rewrite(capture('t01-ok-tcp-pwtest1-2-getUser.req.raw').raw, [[capSid, sid]]));
      const getCap = capture('t01-ok-tcp-pwtest1-2-getUser.resp.raw').raw;
      expect(g).toEqual(rewrite(getCap, [[entryIdOf(getCap), entryIdOf(g)]]));

      const s = await c.exchange(rewrite(capture('t01-ok-tcp-pwtest1-3-setUser.req.raw').raw, [[capSid, sid]]));
      expect(s).toEqual(capture('t01-ok-tcp-pwtest1-3-setUser.resp.raw').raw);
      const o = await c.exchange(rewrite(capture('t01-ok-tcp-pwtest1-4-logoff.req.raw').raw, [[capSid, sid]]));
      expect(o).toEqual(capture('t01-ok-tcp-pwtest1-4-logoff.resp.raw').raw);
      c.close();

      expect(await logsOn(tcp, 'pwtest1', 'New-pass2')).toBe(true);
      expect(await logsOn(tcp, 'pwtest1', 'Old-pass1')).toBe(false);
      expect(emu.user('pwtest1')).toEqual({ ...before, password: 'New-pass2' });
    });
  });

  it('t03: the same change over the unix socket (flags 1) answers byte for byte', async () => {
    await withEmulator({}, async (emu, _tcp, unix) => {
      const c = await Client.open(unix);
      const sid = await logon(c, 'pwtest2');
      const req = capture('t03-ok-unix-pwtest2-3-setUser.req.raw').raw;
      const r = await c.exchange(rewrite(req, [[sidOf(req), sid]]));
      expect(r).toEqual(capture('t03-ok-unix-pwtest2-3-setUser.resp.raw').raw);
      c.close();
      expect(emu.user('pwtest2')!.password).toBe('Unix-pass2');
    });
  });

  it('e11: a wrong old password fails the logon byte for byte', async () => {
    await withEmulator({}, async (_emu, tcp) => {
      const c = await Client.open(tcp);
      expect(await c.exchange(capture('e11-wrong-old-password-1-logon.req.raw').raw))
        .toEqual(capture('e11-wrong-old-password-1-logon.resp.raw').raw);
      c.close();
    });
  });
});

describe('setUser failures replayed (kopano-chauthtok.md §10)', () => {
  it('NO_ACCESS for another user and for id 0, INVALID_PARAMETER, NOT_FOUND: byte for byte, nobody changed', async () => {
    await withEmulator({}, async (emu, tcp) => {
      const before = [6, 7, 8, 9, 10].map((n) => emu.user(n === 10 ? 'pwadmin' : `pwtest${n - 5}`));
      const c = await Client.open(tcp);
      const sid = await logon(c, 'pwtest1');
      for (const name of ['e01-e10-pwtest1-3-setUser-otheruser', 'e01-e10-pwtest1-4-setUser-uid0', 'e01-e10-pwtest1-5-setUser-nolpsUser',
        'e01-e10-pwtest1-6-setUser-id999999', 'e01-e10-pwtest1-7-setUser-badsUserId']) {
        const req = capture(`${name}.req.raw`).raw;
        expect(await c.exchange(rewrite(req, [[sidOf(req), sid]])), name).toEqual(capture(`${name}.resp.raw`).raw);
      }
      // -1 in an unsignedInt: HTTP 500 with gSOAP's fault, and the connection is closed
      const minus1 = capture('e01-e10-pwtest1-8-setUser-minus1.req.raw').raw;
      expect(await c.exchange(rewrite(minus1, [[sidOf(minus1), sid]]))).toEqual(capture('e01-e10-pwtest1-8-setUser-minus1.resp.raw').raw);
      expect(await c.waitClosed()).toBe(true);
      expect([6, 7, 8, 9, 10].map((n) => emu.user(n === 10 ? 'pwadmin' : `pwtest${n - 5}`))).toEqual(before);
      // the session survived the fault: log it off on a new connection
      const c2 = await Client.open(tcp);
      expect(resultOf(await c2.exchange(rewrite(capture('t01-ok-tcp-pwtest1-4-logoff.req.raw').raw,
        [[sidOf(capture('t01-ok-tcp-pwtest1-4-logoff.req.raw').raw), sid]])))).toBe('0');
      c2.close();
    });
  });

  it('END_OF_SESSION: unknown id (e04), NO_REGISTER_SESSION (e05), after logoff (e06), another source address', async () => {
    await withEmulator({}, async (emu, tcp) => {
      const c = await Client.open(tcp);
      expect(await c.exchange(capture('e04-bogus-session-1-setUser.req.raw').raw)).toEqual(capture('e04-bogus-session-1-setUser.resp.raw').raw);
      const eos = capture('e04-bogus-session-1-setUser.resp.raw').raw;
      const lpsUser = `<lpsUser><ulUserId>6</ulUserId><lpszPassword>X-5</lpszPassword>${SAFE_NUMBERS}</lpsUser>`;
      const noRegister = await logon(c, 'pwtest1', 'Old-pass1', 3);
      expect(await c.exchange(setUserRequest(noRegister, lpsUser))).toEqual(eos);
      const sid = await logon(c, 'pwtest1');
      const other = await Client.open({ port: tcp.port, localAddress: '127.0.0.2' });
      expect(await other.exchange(setUserRequest(sid, lpsUser))).toEqual(eos);
      other.close();
      expect(resultOf(await c.exchange(rewrite(capture('t01-ok-tcp-pwtest1-4-logoff.req.raw').raw,
        [[sidOf(capture('t01-ok-tcp-pwtest1-4-logoff.req.raw').raw), sid]])))).toBe('0');
      expect(await c.exchange(setUserRequest(sid, lpsUser))).toEqual(eos);
      c.close();
      expect(emu.user('pwtest1')!.password).toBe('Old-pass1');
    });
  });
});

describe('setUser is not a patch (kopano-chauthtok.md §2.3, §10.9)', () => {
  it('t02: a naive minimal request changes the password and deletes the explicit features', async () => {
    await withEmulator({}, async (emu, tcp) => {
      const c = await Client.open(tcp);
      const sid = await logon(c, 'pwtest3');
      const req = capture('t02-naive-minimal-pwtest3-3-setUser.req.raw').raw;
      expect(await c.exchange(rewrite(req, [[sidOf(req), sid]]))).toEqual(capture('t02-naive-minimal-pwtest3-3-setUser.resp.raw').raw);
      c.close();
      expect(emu.user('pwtest3')).toMatchObject({ password: 'New-pass3', enabledFeatures: [], disabledFeatures: [], admin: 0, active: true });
    });
  });

  it('t05b: an admin sending the naive request loses admin rights (features kept); the safe request keeps them', async () => {
    await withEmulator({}, async (emu, tcp) => {
      const c = await Client.open(tcp);
      let sid = await logon(c, 'pwadmin');
      const safe = `<lpsUser><ulUserId>10</ulUserId><lpszPassword>Admin-pass2</lpszPassword>${SAFE_NUMBERS}${T01_FEATURES}</lpsUser>`;
      expect(resultOf(await c.exchange(setUserRequest(sid, safe)))).toBe('0');
      expect(emu.user('pwadmin')).toMatchObject({ admin: 1, hidden: 0, enabledFeatures: ['imap'], disabledFeatures: ['mobile'] });
      sid = await logon(c, 'pwadmin', 'Admin-pass2');
      expect(resultOf(await c.exchange(setUserRequest(sid, '<lpsUser><ulUserId>10</ulUserId><lpszPassword>Admin-pass3</lpszPassword></lpsUser>')))).toBe('0');
      c.close();
      expect(emu.user('pwadmin')).toMatchObject({ password: 'Admin-pass3', admin: 0, enabledFeatures: ['imap'], disabledFeatures: ['mobile'] });
    });
  });

  it('t04: a user may hide themselves; omitted numbers unhide them; the safe request keeps the flag', async () => {
    await withEmulator({}, async (emu, tcp) => {
      const c = await Client.open(tcp);
      const sid = await logon(c, 'pwtest2');
      const hide = `<lpsUser><ulUserId>7</ulUserId><ulIsAdmin>4294967295</ulIsAdmin><ulIsABHidden>1</ulIsABHidden><ulCapacity>4294967295</ulCapacity><ulObjClass>4294967295</ulObjClass>${T01_FEATURES}</lpsUser>`;
      expect(resultOf(await c.exchange(setUserRequest(sid, hide)))).toBe('0');
      expect(emu.user('pwtest2')).toMatchObject({ hidden: 1, password: 'Old-pass1' });
      expect(resultOf(await c.exchange(setUserRequest(sid, `<lpsUser><ulUserId>7</ulUserId><lpszPassword>Hidden-pass3</lpszPassword>${SAFE_NUMBERS}${T01_FEATURES}</lpsUser>`)))).toBe('0');
      expect(emu.user('pwtest2')).toMatchObject({ hidden: 1, password: 'Hidden-pass3', enabledFeatures: ['imap'], disabledFeatures: ['mobile'] });
      expect(resultOf(await c.exchange(setUserRequest(sid, `<lpsUser><ulUserId>7</ulUserId><lpszPassword>Hidden-pass4</lpszPassword>${T01_FEATURES}</lpsUser>`)))).toBe('0');
      expect(emu.user('pwtest2')).toMatchObject({ hidden: 0, password: 'Hidden-pass4' });
      c.close();
    });
  });

  it('t06, t07, t09: an empty password is ignored with result 0, {2}: is stored literally, the self path drops other fields', async () => {
    await withEmulator({}, async (emu, tcp) => {
      const c = await Client.open(tcp);
      let sid = await logon(c, 'pwtest4');
      const empty = `<lpsUser><ulUserId>9</ulUserId><lpszPassword/>${SAFE_NUMBERS}${T01_FEATURES}</lpsUser>`;
      expect(resultOf(await c.exchange(setUserRequest(sid, empty)))).toBe('0');
      expect(emu.user('pwtest4')!.password).toBe('Old-pass1');
      const enc = `<lpsUser><ulUserId>9</ulUserId><lpszPassword>{2}:4MvGiNXE1taQ</lpszPassword>${SAFE_NUMBERS}${T01_FEATURES}</lpsUser>`;
      expect(resultOf(await c.exchange(setUserRequest(sid, enc)))).toBe('0');
      expect(emu.user('pwtest4')!.password).toBe('{2}:4MvGiNXE1taQ');
      expect(await logsOn(tcp, 'pwtest4', 'Enc-pass5')).toBe(false);
      expect(await logsOn(tcp, 'pwtest4', '{2}:4MvGiNXE1taQ')).toBe(false);

      sid = await logon(c, 'pwtest1');
      const before = emu.user('pwtest1')!;
      const t09 = '<lpsUser><ulUserId>6</ulUserId><lpszUsername>pwtest1x</lpszUsername><lpszPassword>New-pass7</lpszPassword><lpszMailAddress>evil@example.test</lpszMailAddress><lpszFullName>Hacked Name</lpszFullName><ulIsAdmin>2</ulIsAdmin><ulIsABHidden>4294967295</ulIsABHidden><ulCapacity>4294967295</ulCapacity><ulObjClass>65538</ulObjClass>' + T01_FEATURES + '</lpsUser>';
      expect(resultOf(await c.exchange(setUserRequest(sid, t09)))).toBe('0');
      expect(emu.user('pwtest1')).toEqual({ ...before, password: 'New-pass7' });
      c.close();
    });
  });

  it('user plugins: ldap answers NOT_IMPLEMENTED, unix PLUGIN_ERROR; auth_method=pam accepts a change logon ignores', async () => {
    for (const [opts, result] of [[{ userPlugin: 'ldap' }, '2147483679'], [{ userPlugin: 'unix' }, '2147483677'], [{ authMethod: 'pam' }, '0']] as const) {
      await withEmulator(opts, async (emu, tcp) => {
        const c = await Client.open(tcp);
        const sid = await logon(c, 'pwtest1');
        const safe = `<lpsUser><ulUserId>6</ulUserId><lpszPassword>New-pass2</lpszPassword>${SAFE_NUMBERS}${T01_FEATURES}</lpsUser>`;
        expect(resultOf(await c.exchange(setUserRequest(sid, safe))), JSON.stringify(opts)).toBe(result);
        c.close();
        expect(emu.user('pwtest1')!.password).toBe('Old-pass1');
        expect(await logsOn(tcp, 'pwtest1', 'New-pass2')).toBe(false);
      });
    }
  });
});
