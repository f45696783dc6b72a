// Server URLs whose host glibc would read as an IPv4 address although it is not a dotted quad: getaddrinfo (through
// inet_aton) takes one to four decimal, octal or 0x-hex parts, so http://0x7f.0.0.1/ connected to 127.0.0.1 while
// it had passed the URL check as a name. Both checks that pin the servers must refuse them — the C module's
// (native/server_url.c, through the real module and libpam) and the Node host's (host/server-url.ts) — and both
// must keep accepting names that merely contain hex-looking labels.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseServerUrl } from "../host/server-url.js";
import { PAM, TEST_MODULE, makeConfdir, removeConfdir, runPamdrive, writeConfdir } from "./helpers/pam.js";

// what `getent ahostsv4` answers on Debian 12, for the record
const READ_AS_ADDRESSES: Array<[string, string]> = [
  ["http://0x7f.0.0.1/", "127.0.0.1"],
  ["http://0X7F.0.0.1:236/", "127.0.0.1"],
  ["http://0x7f000001/", "127.0.0.1"],
  ["http://127.1/", "127.0.0.1"],
  ["http://2130706433/", "127.0.0.1"],
  ["http://1.0x7f/", "1.0.0.127"],
  ["http://017.0.0.1/", "15.0.0.1"],
  ["http://127.0.0.0x1/", "127.0.0.1"],
];
// a name that ends in a number is an address or nothing (as in the WHATWG URL parser), even where glibc would not
// read it as one
const ENDS_IN_A_NUMBER = ["http://foo.123/", "http://foo.0x10/", "http://foo.0x/", "http://1.2.3.4.5/"];
// names that only look numeric in part: still names (they resolve through DNS, here to nothing)
const NAMES = ["http://0x7f.invalid/", "http://cafe.invalid/", "http://x0x7f.invalid:236/", "http://0xg.invalid/", "http://123.invalid/"];

let confdir: string;
let serial = 0;
beforeAll(() => { confdir = makeConfdir(); });
afterAll(() => removeConfdir(confdir));

async function moduleVerdict(url: string) {
  const service = `url${++serial}`;
  writeConfdir(confdir, service, [`auth required ${TEST_MODULE} socket=${url} timeout=2 debug`]);
  const r = await runPamdrive(confdir, service, "alice", ["auth"], { input: ["pw"] });
  const refused = r.syslog.find((l) => l.priority === 3 && l.message.startsWith("configuration error: server 1"));
  return { code: r.code, refused: refused?.message };
}

describe("hosts that getaddrinfo would read as an IPv4 address", () => {
  it.each(READ_AS_ADDRESSES.concat(ENDS_IN_A_NUMBER.map((u) => [u, "-"])))("%s (glibc: %s) is refused by the Node host", (url) => {
    expect(() => parseServerUrl(url)).toThrow(/is not a host name or IP address \(a name that ends in a number must be a dotted quad\)/);
  });

  it.each(READ_AS_ADDRESSES.concat(ENDS_IN_A_NUMBER.map((u) => [u, "-"])))("%s (glibc: %s) is refused by the C module: PAM_SERVICE_ERR", async (url) => {
    const r = await moduleVerdict(url);
    expect(r.code).toBe(PAM.SERVICE_ERR);
    expect(r.refused).toBe(`configuration error: server 1 "${url}": the host is not a DNS name, a dotted-quad IPv4 address or an [IPv6] address (a name that ends in a number, like 0x7f.0.0.1 or 127.1, must be a dotted quad)`);
  });

  it.each(NAMES)("%s is still a name for both", async (url) => {
    expect(parseServerUrl(url)).toMatchObject({ kind: "http" });
    const r = await moduleVerdict(url);
    expect(r.refused).toBeUndefined();
    expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL); // it was looked up, and .invalid never resolves
  });

  it("a dotted quad is still an address for both", async () => {
    expect(parseServerUrl("http://127.0.0.1:1/")).toMatchObject({ host: "127.0.0.1", port: 1 });
    const r = await moduleVerdict("http://127.0.0.1:1/");
    expect(r.refused).toBeUndefined();
    expect(r.code).toBe(PAM.AUTHINFO_UNAVAIL);
  });
});
