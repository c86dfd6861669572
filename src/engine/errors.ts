/**
 * Typed errors. Every error a user can cause or meet carries a message that
 * says what failed, on what, and (in `hint`) what to do about it. The CLI and
 * the daemon print `message` (and `hint`) without a stack trace for these.
 */
export type ErrorCode =
  | 'usage' // bad command-line or D-Bus input
  | 'invalid-config' // treefile, configuration file, origin file
  | 'not-found' // a package, ref, revision, file that does not exist
  | 'not-a-sysroot'
  | 'ostree' // libostree / ostree command failure
  | 'apt' // APT resolution or download failure
  | 'dpkg' // dpkg or maintainer script failure
  | 'network'
  | 'busy' // another transaction is running
  | 'cancelled'
  | 'denied' // authorization
  | 'not-implemented'
  | 'no-change'
  | 'internal';

export class AptOstreeError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  /** Output of a failed subprocess worth showing (e.g. APT's explanation, a script's output). */
  readonly details?: string;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; details?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AptOstreeError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  /** One text for humans: message, details, hint. */
  describe(): string {
    const parts = [this.message];
    if (this.details && this.details.trim() !== '') parts.push(this.details.trimEnd());
    if (this.hint) parts.push(`hint: ${this.hint}`);
    return parts.join('\n');
  }
}

/**
 * The parts of a text made by describe(): the first line is the message, a
 * last line that starts with "hint: " is the hint, the lines between are the
 * details. An error rebuilt from them describes itself with the same text.
 */
export function parseDescription(text: string): { message: string; hint?: string; details?: string } {
  const lines = text.split('\n');
  const message = lines.shift() ?? '';
  const last = lines[lines.length - 1];
  const hint = last !== undefined && last.startsWith('hint: ') ? (lines.pop() ?? '').slice('hint: '.length) : undefined;
  return { message, ...(hint !== undefined ? { hint } : {}), ...(lines.length > 0 ? { details: lines.join('\n') } : {}) };
}

export const usageError = (message: string, hint?: string): AptOstreeError => new AptOstreeError('usage', message, { hint });

export const notFound = (message: string, hint?: string): AptOstreeError => new AptOstreeError('not-found', message, { hint });

export const notImplemented = (what: string): AptOstreeError => new AptOstreeError('not-implemented', `${what} is not implemented yet`);

export class CancelledError extends AptOstreeError {
  constructor(what = 'the operation') {
    super('cancelled', `${what} was cancelled; nothing was deployed`);
  }
}

export function isAptOstreeError(e: unknown): e is AptOstreeError {
  return e instanceof AptOstreeError;
}

/** Turn anything thrown into an AptOstreeError, keeping typed ones as they are. */
export function toAptOstreeError(e: unknown): AptOstreeError {
  if (e instanceof AptOstreeError) return e;
  if (e instanceof Error) return new AptOstreeError('internal', e.message, { cause: e });
  return new AptOstreeError('internal', String(e));
}
