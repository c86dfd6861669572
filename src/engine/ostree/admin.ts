/**
 * `ostree admin` and the few repository commands a sysroot needs, through the
 * real `ostree` command. Every call names the sysroot explicitly. Refs are
 * resolved by ./repo.ts (revParse).
 */
import { run } from '../exec';

export interface AdminRunOpts {
  signal?: AbortSignal;
}

function ostree(args: string[], what: string, opts: AdminRunOpts = {}, hint?: string): Promise<{ stdout: string }> {
  return run('ostree', args, { errorCode: 'ostree', what, signal: opts.signal, hint });
}

export async function initFs(sysroot: string, opts: AdminRunOpts = {}): Promise<void> {
  await ostree(['admin', 'init-fs', '--modern', sysroot], `initializing the sysroot ${sysroot}`, opts);
}

export async function osInit(sysroot: string, osname: string, opts: AdminRunOpts = {}): Promise<void> {
  await ostree(['admin', 'os-init', `--sysroot=${sysroot}`, osname], `initializing the stateroot ${osname}`, opts);
}

export interface DeployArgs {
  osname: string;
  /** A checksum or a ref of the sysroot's repo. */
  revision: string;
  originFile?: string;
  /** The full kernel argument list (replaces the merge deployment's); undefined keeps it. */
  kargs?: string[];
  stage?: boolean;
  retain?: boolean;
  retainPending?: boolean;
  retainRollback?: boolean;
  notAsDefault?: boolean;
  noPrune?: boolean;
}

export async function deploy(sysroot: string, a: DeployArgs, opts: AdminRunOpts = {}): Promise<void> {
  const args = ['admin', 'deploy', `--sysroot=${sysroot}`, `--os=${a.osname}`];
  if (a.originFile) args.push(`--origin-file=${a.originFile}`);
  if (a.kargs) {
    args.push('--karg-none');
    for (const k of a.kargs) args.push(`--karg-append=${k}`);
  }
  if (a.stage) args.push('--stage');
  if (a.retain) args.push('--retain');
  if (a.retainPending) args.push('--retain-pending');
  if (a.retainRollback) args.push('--retain-rollback');
  if (a.notAsDefault) args.push('--not-as-default');
  if (a.noPrune) args.push('--no-prune');
  args.push(a.revision);
  await ostree(args, `deploying ${a.revision} in ${sysroot}`, opts);
}

/** Remove deployment INDEX (in boot order). */
export async function undeploy(sysroot: string, index: number, opts: AdminRunOpts = {}): Promise<void> {
  await ostree(['admin', 'undeploy', `--sysroot=${sysroot}`, String(index)], `removing deployment ${index}`, opts);
}

/** Delete unreferenced deployment directories, boot files and repository objects. */
export async function cleanup(sysroot: string, opts: AdminRunOpts = {}): Promise<void> {
  await ostree(['admin', 'cleanup', `--sysroot=${sysroot}`], `cleaning up ${sysroot}`, opts);
}

export async function pin(sysroot: string, index: number, unpin: boolean, opts: AdminRunOpts = {}): Promise<void> {
  const args = ['admin', 'pin', `--sysroot=${sysroot}`];
  if (unpin) args.push('--unpin');
  args.push(String(index));
  await ostree(args, `${unpin ? 'unpinning' : 'pinning'} deployment ${index}`, opts);
}

export interface RemoteArgs {
  name: string;
  url: string;
  /** e.g. ['gpg-verify=false', 'sign-verify=true'] */
  options?: string[];
  /** `--sign-verify=ed25519=inline:KEY` style (ostree remote add --sign-verify). */
  signVerify?: string[];
  /** Keyring / public keys file for GPG. */
  gpgImport?: string;
}

/** Add (or replace) a remote in the repository `repo`. */
export async function remoteAdd(repo: string, r: RemoteArgs, opts: AdminRunOpts = {}): Promise<void> {
  const args = ['remote', 'add', `--repo=${repo}`, '--force'];
  for (const o of r.options ?? []) args.push(`--set=${o}`);
  for (const s of r.signVerify ?? []) args.push(`--sign-verify=${s}`);
  if (r.gpgImport) args.push(`--gpg-import=${r.gpgImport}`);
  args.push(r.name, r.url);
  await ostree(args, `adding the remote ${r.name} (${r.url})`, opts);
}

/** Copy REF (and its objects) from the local repository `from` into `repo`. */
export async function pullLocal(repo: string, from: string, refs: string[], opts: AdminRunOpts & { remote?: string } = {}): Promise<void> {
  const args = ['pull-local', `--repo=${repo}`];
  if (opts.remote) args.push(`--remote=${opts.remote}`);
  args.push(from, ...refs);
  await ostree(args, `copying ${refs.join(' ')} from ${from}`, opts);
}
