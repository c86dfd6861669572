/**
 * The operations the engine performs, as data. The CLI builds a request from
 * its arguments; the daemon builds the same request from a D-Bus call; both
 * hand it to `runOperation` (in-process, or inside a daemon transaction).
 */
import type { Progress } from '../progress';

export interface OperationContext {
  /** Path of the OSTree sysroot ("/" on a real system). */
  sysroot: string;
  /** Stateroot (OS name); default: the one of the default deployment. */
  osname?: string;
  progress: Progress;
  /** Aborted on Cancel(), Ctrl-C, or a client leaving; checked at safe points. */
  signal: AbortSignal;
}

export interface OperationResult {
  /** False when nothing changed (the CLI exits 77 with --unchanged-exit-77). */
  changed: boolean;
  /** One line for the user ("Staged deployment 3f2a1b… (htop added)"). */
  summary: string;
  /** Checksum of the deployment that was made, if any. */
  deployment?: string;
  /** The caller asked for a reboot and the change needs one. */
  rebootRequested?: boolean;
  /** What the runner did about that reboot ("Rebooting", or why not), for the user. */
  rebootNote?: string;
}

/** Options shared by every operation that makes a new deployment. */
export interface DeployOptions {
  dryRun?: boolean;
  cacheOnly?: boolean;
  reboot?: boolean;
  /** Lock against the booted deployment being a different stateroot etc. */
  osname?: string;
}

export interface InstallOptions extends DeployOptions {
  idempotent?: boolean;
  allowInactive?: boolean;
}

export interface UpgradeOptions extends DeployOptions {
  check?: boolean;
  preview?: boolean;
  downloadOnly?: boolean;
  allowDowngrade?: boolean;
  /** deploy: accept a commit that is not in the history of the origin's ref. */
  skipBranchCheck?: boolean;
}

export type CleanupTarget = 'pending' | 'rollback' | 'base' | 'repomd';

export type OperationRequest =
  | { kind: 'install'; packages: string[]; options: InstallOptions }
  | { kind: 'uninstall'; packages: string[]; all: boolean; options: InstallOptions }
  | { kind: 'override-remove'; packages: string[]; options: DeployOptions }
  | { kind: 'override-replace'; debs: string[]; options: DeployOptions }
  | { kind: 'override-reset'; packages: string[]; all: boolean; options: DeployOptions }
  | { kind: 'reset'; options: DeployOptions }
  | { kind: 'refresh-md'; options: { force?: boolean } }
  | { kind: 'upgrade'; options: UpgradeOptions }
  | { kind: 'deploy'; revision: string; options: UpgradeOptions }
  | { kind: 'rebase'; refspec: string; options: UpgradeOptions }
  | { kind: 'rollback'; options: { reboot?: boolean } }
  | {
      kind: 'kargs';
      append: string[];
      appendIfMissing: string[];
      delete: string[];
      deleteIfPresent: string[];
      replace: string[];
      /** The full new list (from --editor); applied before the edits above. */
      set?: string[];
      options: { reboot?: boolean };
    }
  | { kind: 'initramfs'; enable: boolean; args: string[]; options: { reboot?: boolean } }
  | { kind: 'cleanup'; what: CleanupTarget[]; options: Record<string, never> }
  | { kind: 'pin'; index: number; unpin: boolean; options: Record<string, never> }
  /** mode/scope: the daemon's configuration in force when absent (the daemon fills them; in-process: the config file). */
  | { kind: 'automatic-update'; options: { mode?: 'none' | 'check' | 'stage'; scope?: 'full' | 'security' } };

export type OperationKind = OperationRequest['kind'];

