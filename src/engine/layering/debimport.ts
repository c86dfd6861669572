/**
 * Importing .deb files into the sysroot's repository: each package version
 * once, as a commit of its own (ref aptostree/pkg/NAME/VERSION_ARCH) whose
 * tree is `dpkg-deb -R` output (DEBIAN/ control data and the files, with
 * their owners and modes) and whose metadata holds the control fields.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AptOstreeError } from '../errors';
import { run } from '../exec';
import { commitInfo } from '../ostree/native';
import { commitTree, revParse } from '../ostree/repo';
import { packageRef } from './names';

export const META_DEB_NAME = 'aptostree.deb.package';
export const META_DEB_VERSION = 'aptostree.deb.version';
export const META_DEB_ARCH = 'aptostree.deb.architecture';
export const META_DEB_SHA256 = 'aptostree.deb.sha256';
export const META_DEB_CONTROL = 'aptostree.deb.control';

export interface ImportedPackage {
  name: string;
  version: string;
  arch: string;
  ref: string;
  commit: string;
  sha256?: string;
  /** Pre-Depends field, for ordering dpkg runs. */
  preDepends: string;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Control fields of a .deb; a clear error when the file is no valid package. */
export async function debControl(path: string, signal?: AbortSignal): Promise<{ text: string; fields: Map<string, string> }> {
  let text: string;
  try {
    text = (await run('dpkg-deb', ['-f', path], { errorCode: 'dpkg', what: `reading ${path}`, signal })).stdout;
  } catch (e) {
    if (e instanceof AptOstreeError && e.code === 'cancelled') throw e;
    throw new AptOstreeError('dpkg', `${path} is not a valid Debian package`, {
      details: e instanceof AptOstreeError ? e.details : String(e),
      hint: 'the file is corrupt or incomplete; download it again',
    });
  }
  const fields = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line}`);
    else {
      const m = /^([^:\s]+):\s?(.*)$/.exec(line);
      if (m) {
        last = m[1]!;
        fields.set(last, m[2]!);
      }
    }
  }
  if (!fields.get('Package') || !fields.get('Version') || !fields.get('Architecture')) {
    throw new AptOstreeError('dpkg', `${path} is not a valid Debian package: no Package, Version or Architecture`);
  }
  return { text, fields };
}

/**
 * Import one .deb unless the same package version with the same sha256 is
 * already in the repo. `tmpDir` must be on the repo's
 * filesystem (the repo's tmp/).
 */
export async function importDeb(
  repo: string,
  debPath: string,
  tmpDir: string,
  opts: { local: boolean; signal?: AbortSignal; dryRun?: boolean },
): Promise<ImportedPackage> {
  const { text, fields } = await debControl(debPath, opts.signal);
  const name = fields.get('Package')!;
  const version = fields.get('Version')!;
  const arch = fields.get('Architecture')!;
  const ref = packageRef(name, version, arch);
  const sha256 = await sha256File(debPath);
  const preDepends = fields.get('Pre-Depends') ?? '';
  const existing = await importedFromRef(repo, ref);
  // Keyed by checksum as well: a rebuilt file of the same version replaces the old import.
  if (existing && existing.sha256 === sha256) return { ...existing, sha256, preDepends };
  // A dry run reads the package and writes nothing to the repository (commit: none).
  if (opts.dryRun) return { name, version, arch, ref, commit: '', sha256, preDepends };
  const dir = mkdtempSync(join(tmpDir, 'apt-ostree-import-'));
  try {
    const tree = join(dir, 'tree');
    try {
      await run('dpkg-deb', ['-R', debPath, tree], { errorCode: 'dpkg', what: `unpacking ${debPath}`, signal: opts.signal });
    } catch (e) {
      if (e instanceof AptOstreeError && e.code === 'cancelled') throw e;
      throw new AptOstreeError('dpkg', `${debPath} is not a valid Debian package (it cannot be unpacked)`, {
        details: e instanceof AptOstreeError ? e.details : String(e),
        hint: 'the file is corrupt or incomplete; download it again',
      });
    }
    const metadata: Record<string, string> = {
      [META_DEB_NAME]: name,
      [META_DEB_VERSION]: version,
      [META_DEB_ARCH]: arch,
      [META_DEB_CONTROL]: text,
    };
    metadata[META_DEB_SHA256] = sha256;
    const commit = await commitTree({
      repo,
      branch: ref,
      tree: { dir: tree },
      subject: `${name} ${version} ${arch}`,
      parent: 'none',
      metadata,
      consume: true,
      noBindings: true,
      signal: opts.signal,
    });
    return { name, version, arch, ref, commit, sha256, preDepends };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A local ref read from refs/heads (no process); undefined when absent. */
function readLocalRef(repo: string, ref: string): string | undefined {
  try {
    const c = readFileSync(join(repo, 'refs', 'heads', ...ref.split('/')), 'utf8').trim();
    return /^[0-9a-f]{64}$/.test(c) ? c : undefined;
  } catch {
    return undefined;
  }
}

/** The imported package at `ref`, from its commit metadata. */
export async function importedFromRef(repo: string, ref: string): Promise<ImportedPackage | undefined> {
  const commit = readLocalRef(repo, ref) ?? (await revParse(repo, ref));
  if (!commit) return undefined;
  const md = commitInfo(repo, commit).metadata;
  const str = (k: string): string | undefined => (typeof md[k] === 'string' ? (md[k] as string) : undefined);
  const name = str(META_DEB_NAME);
  const version = str(META_DEB_VERSION);
  const arch = str(META_DEB_ARCH);
  if (!name || !version || !arch) return undefined;
  const pre = /^Pre-Depends:\s?(.*)$/m.exec(str(META_DEB_CONTROL) ?? '');
  return { name, version, arch, ref, commit, sha256: str(META_DEB_SHA256), preDepends: pre?.[1] ?? '' };
}
