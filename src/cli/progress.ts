/**
 * Renders engine progress on the terminal: a line per task, and on a TTY a
 * progress bar (cli-progress) for percentages and downloads; plain lines
 * otherwise so that logs stay readable.
 */
import { Presets, SingleBar } from 'cli-progress';
import type { Progress } from '../engine/progress';

export class TerminalProgress implements Progress {
  private readonly tty: boolean;
  private bar: SingleBar | undefined;
  private barKind: 'percent' | 'download' | undefined;
  private currentTask: string | undefined;
  private lastPlainPercent = -1;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = out.isTTY === true;
  }

  taskBegin(name: string): void {
    this.stopBar();
    this.currentTask = name;
    this.lastPlainPercent = -1;
    if (this.tty) this.out.write(`${name}... `);
    else this.out.write(`${name}...\n`);
  }

  taskEnd(summary: string): void {
    this.stopBar();
    if (this.tty && this.currentTask !== undefined) this.out.write(`${summary}\n`);
    else this.out.write(`${this.currentTask ?? 'task'}: ${summary}\n`);
    this.currentTask = undefined;
  }

  message(text: string): void {
    this.stopBar();
    if (this.tty && this.currentTask !== undefined) {
      this.out.write('\n');
      this.currentTask = undefined;
    }
    this.out.write(`${text}\n`);
  }

  percent(text: string, percent: number): void {
    if (!this.tty) {
      const step = Math.floor(percent / 25) * 25;
      if (step !== this.lastPlainPercent) {
        this.lastPlainPercent = step;
        this.out.write(`${text}: ${percent}%\n`);
      }
      return;
    }
    this.ensureBar('percent', 100, '{bar} {percentage}% {text}').update(percent, { text });
  }

  download(doneBytes: number, totalBytes: number): void {
    if (!this.tty) {
      if (totalBytes > 0 && doneBytes >= totalBytes) this.out.write(`Downloaded ${formatBytes(doneBytes)}\n`);
      return;
    }
    const bar = this.ensureBar('download', Math.max(totalBytes, doneBytes, 1), '{bar} {done} / {total}');
    bar.setTotal(Math.max(totalBytes, doneBytes, 1));
    bar.update(doneBytes, { done: formatBytes(doneBytes), total: formatBytes(totalBytes) });
  }

  /** Clear the bar before the command prints its result. */
  finish(): void {
    this.stopBar();
  }

  private ensureBar(kind: 'percent' | 'download', total: number, format: string): SingleBar {
    if (this.bar && this.barKind === kind) return this.bar;
    this.stopBar();
    if (this.currentTask !== undefined) this.out.write('\n');
    this.bar = new SingleBar({ format, stream: this.out, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
    this.bar.start(total, 0, { text: '', done: '0 B', total: formatBytes(total) });
    this.barKind = kind;
    return this.bar;
  }

  private stopBar(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
      this.barKind = undefined;
    }
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
