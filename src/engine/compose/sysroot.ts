/**
 * `compose sysroot`: what an installer writes to a disk. Initialize DIR as an
 * OSTree sysroot (`ostree admin init-fs`, `os-init`), copy REF from a
 * repository into it, optionally configure a remote to follow over HTTP, and
 * deploy REF as the first deployment with its origin file.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AptOstreeError, usageError } from '../errors';
import { run } from '../exec';
import { newOrigin } from '../origin';
import * as admin from '../ostree/admin';
import { revParse } from '../ostree/repo';
import { task, type Progress } from '../progress';
import { loadSysroot, validateKargs, writeNewDeployment } from '../sysroot';

export interface RemoteSpec {
  name: string;
  url: string;
  /** `ed25519=inline:KEY` / `ed25519=file:PATH` (ostree remote add --sign-verify). */
  signVerify: string[];
  /** A GPG key file to import; turns gpg-verify on. */
  gpgImport?: string;
}

export interface ComposeSysrootOptions {
  repo: string;
  ref: string;
  /** Stateroot (OS name); default "debian". */
  stateroot?: string;
  kargs: string[];
  remote?: RemoteSpec;
  dir: string;
}

export interface ComposeSysrootResult {
  sysroot: string;
  checksum: string;
  osname: string;
  refspec: string;
  deployPath: string;
}

export const DEFAULT_STATEROOT = 'debian';

/** Parse `NAME=URL` of --remote. */
export function parseRemoteArg(s: string): { name: string; url: string } {
  const eq = s.indexOf('=');
  const name = eq < 0 ? '' : s.slice(0, eq);
  const url = eq < 0 ? '' : s.slice(eq + 1);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || url === '') {
    throw usageError(`--remote "${s}" is not NAME=URL`, 'e.g. --remote origin=http://127.0.0.1:8080/repo');
  }
  if (!/^(https?|file):\/\//.test(url)) {
    throw usageError(`--remote ${name}: "${url}" is not an http://, https:// or file:// URL`);
  }
  return { name, url };
}

export async function composeSysroot(opts: ComposeSysrootOptions, progress: Progress, signal: AbortSignal): Promise<ComposeSysrootResult> {
  const repo = resolve(opts.repo);
  const dir = resolve(opts.dir);
  const osname = opts.stateroot ?? DEFAULT_STATEROOT;

  // Validate everything before writing anything.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(osname)) throw usageError(`invalid stateroot name "${osname}"`);
  validateKargs(opts.kargs);
  if (!existsSync(join(repo, 'config')) || !existsSync(join(repo, 'objects'))) {
    throw new AptOstreeError('not-found', `${repo} is not an OSTree repository`, {
      hint: 'give --repo the repository "apt-ostree compose tree" committed to',
    });
  }
  const checksum = await revParse(repo, opts.ref, { signal });
  if (!checksum) {
    throw new AptOstreeError('not-found', `no ref "${opts.ref}" in ${repo}`, { hint: `list the refs with: ostree refs --repo=${repo}` });
  }
  let created = false;
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw usageError(`${dir} exists and is not a directory`);
    if (readdirSync(dir).length > 0) {
      throw usageError(`${dir} is not empty`, 'compose a sysroot into a new or empty directory');
    }
  } else {
    mkdirSync(dir, { recursive: true });
    created = true;
  }

  const refspec = opts.remote ? `${opts.remote.name}:${opts.ref}` : opts.ref;
  try {
    await task(progress, `Initializing the sysroot ${dir}`, async () => {
      await admin.initFs(dir, { signal });
      await admin.osInit(dir, osname, { signal });
    });
    const sysrepo = join(dir, 'ostree', 'repo');
    if (opts.remote) {
      const r = opts.remote;
      await task(progress, `Configuring the remote ${r.name}`, () =>
        admin.remoteAdd(
          sysrepo,
          {
            name: r.name,
            url: r.url,
            options: r.gpgImport ? ['gpg-verify=true'] : ['gpg-verify=false'],
            signVerify: r.signVerify,
            gpgImport: r.gpgImport,
          },
          { signal },
        ),
      );
    }
    await task(progress, `Copying ${opts.ref} (${checksum.slice(0, 10)}) into the sysroot`, () =>
      admin.pullLocal(sysrepo, repo, [opts.ref], { signal, remote: opts.remote?.name }),
    );
    const sysroot = await loadSysroot(dir);
    await task(progress, `Deploying ${refspec}`, () =>
      writeNewDeployment({ sysroot: dir, osname, progress, signal }, sysroot, {
        osname,
        commit: checksum,
        origin: newOrigin(refspec),
        kargs: opts.kargs.length > 0 ? opts.kargs : undefined,
      }),
    );
    const after = await loadSysroot(dir);
    const d = after.defaultDeployment;
    if (!d) throw new AptOstreeError('ostree', `no deployment in ${dir} after deploying ${refspec}`);
    return { sysroot: dir, checksum, osname, refspec, deployPath: d.deployPath };
  } catch (e) {
    // Nothing half-made stays behind.
    await clearImmutableDeployments(dir);
    if (created) rmSync(dir, { recursive: true, force: true });
    else for (const n of readdirSync(dir)) rmSync(join(dir, n), { recursive: true, force: true });
    throw e;
  }
}

/**
 * `ostree admin deploy` makes deployment roots immutable (chattr +i); lift
 * that so the sysroot directory can be removed.
 */
export async function clearImmutableDeployments(sysrootDir: string): Promise<void> {
  const deployParent = join(sysrootDir, 'ostree', 'deploy');
  if (!existsSync(deployParent)) return;
  for (const os of readdirSync(deployParent)) {
    const deployDir = join(deployParent, os, 'deploy');
    if (!existsSync(deployDir)) continue;
    const roots = readdirSync(deployDir)
      .filter((n) => !n.endsWith('.origin'))
      .map((n) => join(deployDir, n));
    if (roots.length > 0) await run('chattr', ['-i', ...roots], { okCodes: [1], errorCode: 'internal' });
  }
}
