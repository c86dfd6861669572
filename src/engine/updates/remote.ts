/**
 * Fetching from a remote repository into the sysroot's repository with the
 * real `ostree pull`: commit metadata only (to check for an update or find a
 * version), or a whole commit (with static deltas when the remote's summary
 * lists them). Failures become typed errors that say what failed and what to
 * do: unreachable server, unknown ref or revision, corrupt objects, signatures.
 */
import { AptOstreeError } from '../errors';
import { run } from '../exec';
import type { Progress } from '../progress';

export interface PullContext {
  progress: Progress;
  signal: AbortSignal;
}

export interface PullOptions {
  /** Only the commit objects (and, with depth, their ancestors'). */
  commitMetadataOnly?: boolean;
  /** History depth for commit-metadata pulls (-1: all). */
  depth?: number;
  /** Refuse a commit older than the one the ref points to now. */
  timestampCheck?: boolean;
  /** How to name `what` in messages (e.g. "debian/bookworm/base (commit 3f2a…)"). */
  label?: string;
}

/** Remote names are what `ostree remote add` accepts; refuse anything that could be read as an option. */
export function validateRemoteName(name: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('-')) {
    throw new AptOstreeError('usage', `invalid remote name "${name}"`, { hint: 'a remote name has letters, digits, "_", "." and "-"' });
  }
}

export function validateRefName(ref: string): void {
  if (ref === '' || ref.startsWith('-') || ref.startsWith('/') || ref.endsWith('/') || /\.\.|\/\/|[\s~^:*?[\\]/.test(ref)) {
    throw new AptOstreeError('usage', `invalid ref "${ref}"`, { hint: 'a ref looks like debian/bookworm/x86_64/base' });
  }
}

/** The remotes configured in `repo`. */
export async function listRemotes(repo: string): Promise<string[]> {
  const r = await run('ostree', ['remote', 'list', `--repo=${repo}`], { errorCode: 'ostree', what: `listing the remotes of ${repo}` });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export async function remoteUrl(repo: string, remote: string): Promise<string | undefined> {
  const r = await run('ostree', ['remote', 'show-url', `--repo=${repo}`, remote], { errorCode: 'ostree', okCodes: [1] });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Make sure `remote` is configured in `repo`, with a clear error when it is not. */
export async function requireRemote(repo: string, remote: string): Promise<string> {
  validateRemoteName(remote);
  const url = await remoteUrl(repo, remote);
  if (url === undefined) {
    const known = await listRemotes(repo).catch(() => [] as string[]);
    throw new AptOstreeError('not-found', `the remote "${remote}" is not configured in ${repo}`, {
      hint:
        known.length > 0
          ? `configured remotes: ${known.join(', ')}`
          : 'configure one with "apt-ostree compose sysroot --remote NAME=URL" or "ostree remote add --repo=SYSROOT/ostree/repo NAME URL"',
    });
  }
  return url;
}

/**
 * `ostree pull` of `what` (a ref or a commit checksum) from `remote` into
 * `repo`. What was fetched before an interruption stays in the repo's staging
 * directory and is reused by the next pull.
 */
export async function pull(ctx: PullContext, repo: string, remote: string, what: string, opts: PullOptions = {}): Promise<string> {
  const url = await requireRemote(repo, remote);
  const args = ['pull', `--repo=${repo}`];
  if (opts.commitMetadataOnly) args.push('--commit-metadata-only');
  if (opts.depth !== undefined) args.push(`--depth=${opts.depth}`);
  if (opts.timestampCheck) args.push('--timestamp-check');
  args.push(remote, what);
  try {
    const r = await run('ostree', args, {
      signal: ctx.signal,
      errorCode: 'ostree',
      what: `pulling ${what} from ${remote}`,
      onStdoutLine: (l) => {
        if (l.trim() !== '') ctx.progress.message(l.trim());
      },
    });
    return r.stdout.trim();
  } catch (e) {
    throw classifyPullError(e, { remote, url, what, label: opts.label });
  }
}

/** What ostree and libcurl say when a server sent damaged data. */
const CORRUPT_RE = new RegExp(
  [
    'Corrupted',
    'checksum expected',
    'Invalid checksum',
    'corrupt',
    'Unexpected EOF',
    'incorrect header',
    'invalid (stored|distance|code|block)',
    'Error decompressing',
    'zlib',
    'data error',
  ].join('|'),
  'i',
);

/** What ostree and libcurl say when the server could not be reached or the transfer broke off. */
const NETWORK_RE = new RegExp(
  [
    'While fetching [^\\n]*: \\[\\d+\\]',
    'Server returned nothing',
    'Connection refused',
    "Couldn't connect",
    'Could not connect',
    'Timeout',
    'timed out',
    'Server returned status 0',
    'Empty reply',
    'transfer closed',
    'Recv failure',
    'Connection reset',
    'Failure when receiving',
    'partial file',
    "Couldn't resolve",
    'Error receiving data',
  ].join('|'),
  'i',
);

/** Turn the text of a failed `ostree pull` into an error a user can act on. */
export function classifyPullError(e: unknown, where: { remote: string; url: string; what: string; label?: string }): unknown {
  if (!(e instanceof AptOstreeError) || e.code === 'cancelled') return e;
  const text = `${e.details ?? ''}\n${e.message}`;
  const line = (re: RegExp): string => (text.split('\n').find((l) => re.test(l)) ?? '').replace(/^error:\s*/, '').trim();
  const isRev = /^[0-9a-f]{64}$/.test(where.what);
  const name = where.label ?? where.what;
  if (/GPG|signature|Signature|sign-verify|No valid sign/i.test(text) && !/Server returned/.test(line(/GPG|ignature/))) {
    return new AptOstreeError(
      'denied',
      `the signature of ${name} from the remote "${where.remote}" does not verify; nothing was deployed`,
      {
        details: (e.details ?? '').replace(/^error:\s*/gm, '').trim() || undefined,
        hint:
          'the remote requires signed commits (gpg-verify or sign-verify in its configuration): ' +
          'check that the server signs its commits with a key this remote trusts ' +
          `(ostree remote gpg-import --repo=SYSROOT/ostree/repo ${where.remote} KEYFILE)`,
      },
    );
  }
  if (CORRUPT_RE.test(text)) {
    return new AptOstreeError(
      'ostree',
      `the remote "${where.remote}" (${where.url}) served corrupt objects for ${name}; nothing was deployed`,
      {
        details: line(/Corrupted|checksum|corrupt|Unexpected EOF|header|invalid|decompress|zlib|data error/i) || e.details,
        hint:
          "the server's repository is damaged or something between changes the data; " +
          'try again later or ask its administrator to run "ostree fsck" on it',
      },
    );
  }
  if (/No such branch|not found in remote|No such ref|refs\/heads.*404|HTTP 404|404/i.test(text)) {
    return new AptOstreeError(
      'not-found',
      isRev
        ? `revision ${where.what} was not found on the remote "${where.remote}" (${where.url})`
        : `ref "${where.what}" was not found on the remote "${where.remote}" (${where.url})`,
      {
        details: line(/No such|404|not found/i) || e.details,
        hint: isRev
          ? 'check the checksum (ostree log on the server shows the history of its refs)'
          : `the remote's refs are listed by "ostree remote refs --repo=SYSROOT/ostree/repo ${where.remote}"`,
      },
    );
  }
  if (NETWORK_RE.test(text)) {
    return new AptOstreeError(
      'network',
      `could not download ${name} from the remote "${where.remote}" (${where.url}); nothing was deployed`,
      {
        details: line(/While fetching|error:/i) || e.details,
        hint: 'check that the server is reachable and try again: objects already downloaded are kept and reused',
      },
    );
  }
  return new AptOstreeError('ostree', `pulling ${name} from the remote "${where.remote}" (${where.url}) failed; nothing was deployed`, {
    details: e.details,
    hint: 'run again with --log-level=debug to see the ostree command',
  });
}
