/**
 * Logging to stderr. Under systemd (JOURNAL_STREAM set) each line carries a
 * syslog priority prefix `<N>` that journald turns into the entry's level.
 */
export type LogLevel = 'error' | 'warning' | 'notice' | 'info' | 'debug';

const PRIORITY: Record<LogLevel, number> = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 };

export function parseLogLevel(s: string): LogLevel | undefined {
  const v = s.trim().toLowerCase();
  if (v === 'warn') return 'warning';
  return (Object.keys(PRIORITY) as LogLevel[]).find((l) => l === v);
}

export interface Logger {
  error(msg: string): void;
  warning(msg: string): void;
  notice(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  setLevel(level: LogLevel): void;
}

class StderrLogger implements Logger {
  private level: LogLevel;
  private readonly journal = process.env.JOURNAL_STREAM !== undefined;
  constructor(level: LogLevel) {
    this.level = level;
  }
  setLevel(level: LogLevel): void {
    this.level = level;
  }
  private write(level: LogLevel, msg: string): void {
    if (PRIORITY[level] > PRIORITY[this.level]) return;
    const prefix = this.journal ? `<${PRIORITY[level]}>` : level === 'debug' || level === 'info' ? '' : `${level}: `;
    for (const line of msg.split('\n')) process.stderr.write(`${prefix}${line}\n`);
  }
  error(msg: string): void {
    this.write('error', msg);
  }
  warning(msg: string): void {
    this.write('warning', msg);
  }
  notice(msg: string): void {
    this.write('notice', msg);
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  debug(msg: string): void {
    this.write('debug', msg);
  }
}

export const log: Logger = new StderrLogger(parseLogLevel(process.env.APT_OSTREE_LOG_LEVEL ?? '') ?? 'warning');
