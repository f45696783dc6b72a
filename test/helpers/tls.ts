// A throwaway test PKI made with the openssl CLI: a CA (file and c_rehash-style directory), a server certificate
// for localhost/127.0.0.1, and expired, wrong-host and self-signed variants. Cached per process and directory.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  caFile: string;
  caDir: string;
  key: string;
  cert: string;
  expiredCert: string;
  expiredKey: string;
  wrongHostCert: string;
  wrongHostKey: string;
  selfSignedCert: string;
  selfSignedKey: string;
}

const cache = new Map<string, TestPki>();

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, name: string): string {
  const path = join(dir, name);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], dir);
  return path;
}

/** Sign a leaf with the CA; `days` < 0 gives a certificate that expired that many days ago. */
function leaf(dir: string, name: string, cn: string, san: string, ca: { key: string; cert: string }, days: number) {
  const key = newKey(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const cert = join(dir, `${name}.pem`);
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr], dir);
  if (days > 0) {
    openssl(
      ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-extfile', ext,
       '-days', String(days), '-out', cert],
      dir,
    );
  } else {
    // `openssl x509` cannot back-date (OpenSSL 3.0), `openssl ca` can
    const caDb = join(dir, `${name}.cadb`);
    mkdirSync(caDb, { recursive: true });
    writeFileSync(join(caDb, 'index.txt'), '');
    writeFileSync(join(caDb, 'serial'), '1000\n');
    const cnf = join(caDb, 'ca.cnf');
    writeFileSync(
      cnf,
      `[ca]\ndefault_ca=testca\n[testca]\ndatabase=${caDb}/index.txt\nnew_certs_dir=${caDb}\nserial=${caDb}/serial\n` +
        'default_md=sha256\npolicy=any\nunique_subject=no\n[any]\ncommonName=supplied\n',
    );
    openssl(
      ['ca', '-batch', '-notext', '-config', cnf, '-cert', ca.cert, '-keyfile', ca.key, '-in', csr, '-out', cert,
       '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extfile', ext],
      dir,
    );
  }
  return { key, cert };
}

export function makeTestPki(dir: string): TestPki {
  const cached = cache.get(dir);
  if (cached) return cached;
  mkdirSync(dir, { recursive: true });
  const caKey = newKey(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  openssl(
    ['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=pam_mapi test CA', '-days', '3650',
     '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', caFile],
    dir,
  );
  const ca = { key: caKey, cert: caFile };
  const caDir = join(dir, 'ca.d');
  mkdirSync(caDir, { recursive: true });
  copyFileSync(caFile, join(caDir, 'pam_mapi-test-ca.pem'));
  openssl(['rehash', caDir], dir);

  const good = leaf(dir, 'server', 'localhost', 'DNS:localhost,IP:127.0.0.1', ca, 825);
  const expired = leaf(dir, 'expired', 'localhost', 'DNS:localhost,IP:127.0.0.1', ca, -1);
  const wrongHost = leaf(dir, 'wronghost', 'wrong.example', 'DNS:wrong.example', ca, 825);

  const selfSignedKey = newKey(dir, 'selfsigned.key');
  const selfSignedCert = join(dir, 'selfsigned.pem');
  openssl(
    ['req', '-x509', '-new', '-key', selfSignedKey, '-subj', '/CN=localhost', '-days', '825',
     '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-out', selfSignedCert],
    dir,
  );
  // make sure the files are all there and readable before handing them out
  for (const f of [caFile, good.cert, expired.cert, wrongHost.cert, selfSignedCert]) readFileSync(f);
  const pki: TestPki = {
    caFile,
    caDir,
    key: good.key,
    cert: good.cert,
    expiredCert: expired.cert,
    expiredKey: expired.key,
    wrongHostCert: wrongHost.cert,
    wrongHostKey: wrongHost.key,
    selfSignedCert,
    selfSignedKey,
  };
  cache.set(dir, pki);
  return pki;
}
