/**
 * How the engine reports progress. The CLI renders it on a terminal; the
 * daemon turns it into D-Bus signals of the transaction. The engine knows
 * neither.
 */
export interface Progress {
  /** A named phase starts ("Resolving packages"). */
  taskBegin(name: string): void;
  /** The current phase ends; `summary` is what it came to ("done in 1.2 s"). */
  taskEnd(summary: string): void;
  /** A line of information for the user. */
  message(text: string): void;
  /** Progress of a countable step, 0..100. */
  percent(text: string, percent: number): void;
  /** Bytes downloaded so far out of a total (0 when unknown). */
  download(doneBytes: number, totalBytes: number): void;
}

export const silentProgress: Progress = {
  taskBegin: () => undefined,
  taskEnd: () => undefined,
  message: () => undefined,
  percent: () => undefined,
  download: () => undefined,
};

/**
 * Run `fn` as a named task: begin, then end with its duration. The summary of
 * a failed task says "failed"; the error goes on.
 */
export async function task<T>(progress: Progress, name: string, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  progress.taskBegin(name);
  try {
    const result = await fn();
    progress.taskEnd(`done in ${formatSeconds(start)}`);
    return result;
  } catch (e) {
    progress.taskEnd(`failed after ${formatSeconds(start)}`);
    throw e;
  }
}

function formatSeconds(start: bigint): string {
  const ms = Number((process.hrtime.bigint() - start) / 1000000n);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
