/**
 * A small directory sysroot for tests that only read a sysroot (bootstatus,
 * countme, status): a tree with os-release and a dummy kernel committed with
 * the real `ostree`, deployed with `ostree admin deploy`. No Debian base, so
 * it takes about a second. Tests that need real packages use the Debian base.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree, sh, tmpdir } from './env';

export interface MiniSysroot {
  path: string;
  repo: string;
  osname: string;
  /** Deployments made, oldest first: `checksum.serial`. */
  deployments: string[];
  /** Commit a tree (os-release VERSION_ID, `version` metadata) on `ref`; returns its checksum. */
  commit(version: string, opts?: { ref?: string; metadata?: Record<string, string>; repo?: string }): string;
  /** Deploy a commit with an origin; returns `checksum.serial` of the new (default) deployment. */
  deploy(checksum: string, origin: string): string;
  cleanup(): void;
}

export function miniSysroot(prefix: string, osname = 'debian'): MiniSysroot {
  const dir = tmpdir(prefix);
  const path = join(dir, 'sysroot');
  mkdirSync(path);
  const repo = join(path, 'ostree', 'repo');
  sh('ostree', ['admin', 'init-fs', '--modern', path]);
  sh('ostree', ['admin', 'os-init', `--sysroot=${path}`, osname]);
  const deployments: string[] = [];
  let n = 0;
  const ms: MiniSysroot = {
    path,
    repo,
    osname,
    deployments,
    commit(version, opts = {}) {
      const tree = join(dir, `tree-${n++}`);
      mkdirSync(join(tree, 'usr', 'lib', 'modules', '6.1.0-test'), { recursive: true });
      mkdirSync(join(tree, 'usr', 'etc'), { recursive: true });
      writeFileSync(join(tree, 'usr', 'lib', 'modules', '6.1.0-test', 'vmlinuz'), `kernel ${version}\n`);
      writeFileSync(join(tree, 'usr', 'lib', 'modules', '6.1.0-test', 'initramfs.img'), `initramfs ${version}\n`);
      writeFileSync(
        join(tree, 'usr', 'lib', 'os-release'),
        `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n`,
      );
      writeFileSync(join(tree, 'usr', 'etc', 'hostname'), 'test\n');
      const args = [
        'commit',
        `--repo=${opts.repo ?? repo}`,
        `--branch=${opts.ref ?? 'debian/12/x86_64/test'}`,
        `--tree=dir=${tree}`,
        `--add-metadata-string=version=${version}`,
      ];
      for (const [k, v] of Object.entries(opts.metadata ?? {})) args.push(`--add-metadata-string=${k}=${v}`);
      const csum = sh('ostree', args).trim();
      removeTree(tree);
      return csum;
    },
    deploy(checksum, origin) {
      const originFile = join(dir, 'origin');
      writeFileSync(originFile, origin);
      sh('ostree', ['admin', 'deploy', `--sysroot=${path}`, `--os=${osname}`, `--origin-file=${originFile}`, checksum]);
      const serial = deployments.filter((d) => d.startsWith(`${checksum}.`)).length;
      const id = `${checksum}.${serial}`;
      deployments.push(id);
      return id;
    },
    cleanup() {
      // Deployment roots are immutable (chattr +i), as on a real system.
      const deployRoot = join(path, 'ostree', 'deploy', osname, 'deploy');
      if (existsSync(deployRoot)) {
        for (const d of readdirSync(deployRoot)) {
          if (!d.endsWith('.origin')) spawnSync('chattr', ['-i', join(deployRoot, d)]);
        }
      }
      removeTree(dir);
    },
  };
  return ms;
}
