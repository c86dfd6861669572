/**
 * Local .deb files named by a caller: the daemon runs as root, so it never
 * opens a caller's path itself. A child running as the caller (setpriv
 * --reuid/--regid/--init-groups, the uid from the bus) opens the path once,
 * without blocking and without following it into a device or FIFO (fstat: a
 * regular file only), and streams it to the daemon, which writes it into a
 * root-only directory of its own, named by its sha256. Every later step
 * (control fields, checksum, unpacking) uses that copy. What the caller
 * cannot read, the daemon refuses, in the words the caller's own attempt
 * would have had (so nothing about unreadable directories leaks).
 *
 * This file is also the reader's entry point: node localdeb.js PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AptOstreeError } from '../engine/errors';
import type { OperationRequest } from '../engine/operations/types';

/** Largest .deb accepted from a caller. */
export const MAX_LOCAL_DEB_BYTES = 2 * 1024 * 1024 * 1024;
/** A copy that takes longer than this is abandoned. */
const READ_TIMEOUT_MS = 120000;
/** Under the sysroot's repository tmp/: same filesystem, root-only. */
export const LOCAL_DEB_DIR_PREFIX = 'apt-ostree-debs-';

/** The reader (runs as the caller): open without blocking, a regular file only, to stdout. */
function readerMain(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`${err.code ?? 'EIO'}\n`);
    process.exit(2);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    process.stderr.write('ENOTREG\n');
    process.exit(3);
  }
  createReadStream('', { fd })
    .on('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(`${e.code ?? 'EIO'}\n`);
      process.exit(2);
    })
    .pipe(process.stdout);
}

const WHY: Record<string, string> = {
  ENOENT: 'there is no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
  ENOTDIR: 'a component of the path is not a directory',
  EISDIR: 'it is a directory',
  ENOTREG: 'it is not a regular file',
  ENAMETOOLONG: 'the path is too long',
};

/** The account of a uid: its primary gid (for setpriv). */
function accountOf(uid: number): { gid: number } | undefined {
  const r = spawnSync('getent', ['passwd', String(uid)], { encoding: 'utf8' });
  const f = String(r.stdout).trim().split(':');
  return r.status === 0 && f.length >= 4 ? { gid: Number(f[3]) } : undefined;
}

/**
 * Copy `path`, read as `uid`, into `dir` (created 0700); returns the copy's
 * path. Throws a usage error that says why the caller cannot have it.
 */
export function copyAsCaller(path: string, uid: number, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const reader = [process.execPath, __filename, path];
  let as: string[] = [];
  if (uid !== 0) {
    const acct = accountOf(uid);
    if (!acct) {
      return Promise.reject(
        new AptOstreeError('denied', `cannot read ${path} on behalf of uid ${uid}: it has no account`, {
          hint: 'copy the .deb somewhere root can read and install it as root',
        }),
      );
    }
    as = [`--reuid=${uid}`, `--regid=${acct.gid}`, '--init-groups'];
  }
  const argv = ['setpriv', ...as, '--pdeathsig', 'KILL', '--', ...reader];
  const tmp = join(dir, `.part-${randomBytes(6).toString('hex')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    const out = createWriteStream(tmp, { mode: 0o600 });
    const hash = createHash('sha256');
    let size = 0;
    let err = '';
    let failure: AptOstreeError | undefined;
    const fail = (e: AptOstreeError): void => {
      failure ??= e;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => fail(new AptOstreeError('usage', `reading ${path} took longer than ${READ_TIMEOUT_MS / 1000} s; refused`)),
      READ_TIMEOUT_MS,
    );
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_LOCAL_DEB_BYTES) {
        fail(new AptOstreeError('usage', `${path} is larger than ${MAX_LOCAL_DEB_BYTES / 1024 ** 3} GiB; refused`));
        return;
      }
      hash.update(b);
      out.write(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < 4096) err += b.toString();
    });
    child.on('error', (e) => fail(new AptOstreeError('internal', `cannot start the reader of ${path}: ${e.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      out.end(() => {
        if (!failure && code !== 0) {
          const errno = /^(E[A-Z]+)$/m.exec(err)?.[1];
          const why = errno ? (WHY[errno] ?? errno) : `the reader failed (${err.trim().split('\n')[0] ?? code})`;
          failure = new AptOstreeError('usage', `cannot use ${path}${uid === 0 ? '' : ` as uid ${uid}`}: ${why}`, {
            hint: 'give the path of a .deb file you can read',
          });
        }
        if (failure) {
          rmSync(tmp, { force: true });
          reject(failure);
          return;
        }
        const dest = join(dir, `${hash.digest('hex')}.deb`);
        renameSync(tmp, dest);
        resolve(dest);
      });
    });
  });
}

/** The local .deb paths of a request (install, override replace). */
export function localDebsOf(req: OperationRequest): string[] {
  if (req.kind === 'install') return req.packages.filter((p) => p.endsWith('.deb'));
  if (req.kind === 'override-replace') return [...req.debs];
  return [];
}

/** The request with each local .deb path replaced by its copy. */
export function withCopies(req: OperationRequest, copies: Map<string, string>): OperationRequest {
  const sub = (p: string): string => copies.get(p) ?? p;
  if (req.kind === 'install') return { ...req, packages: req.packages.map(sub) };
  if (req.kind === 'override-replace') return { ...req, debs: req.debs.map(sub) };
  return req;
}

/** A directory for the copies of one request, under the repository's tmp/. */
export function localDebDir(repo: string): string {
  return join(repo, 'tmp', `${LOCAL_DEB_DIR_PREFIX}${randomBytes(6).toString('hex')}`);
}

if (require.main === module) readerMain(process.argv[2] ?? '');
