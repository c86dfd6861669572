/**
 * A QEMU virtual machine for the end-to-end test, and the host side of its
 * guest agent (tests/e2e/guest/e2e-agent.sh).
 *
 * The machine boots through UEFI firmware (OVMF, Debian's `ovmf` package:
 * the firmware code read-only, a copy of its variable store per test run)
 * from the system disk, as a PC boots: the firmware runs the boot loader of
 * the disk's EFI system partition, which boots the default deployment. It
 * has no network (-nic none). `-no-reboot` turns a guest reboot into QEMU
 * exiting; the test then starts the machine again, and the boot loader picks
 * the default entry itself. Direct kernel boot (-kernel) is kept for the
 * accelerator probe and for a test of the harness's failure report.
 *
 * Agent channel: a virtio-serial port named org.aptostree.agent, whose host
 * end is a unix socket QEMU listens on. One line per command:
 * "ID BASE64(script)"; answers "@@E2E-BEGIN ID", BASE64(output), "@@E2E-END ID RC".
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

export type Accel = 'kvm' | 'tcg';

export interface BootFiles {
  kernel: string;
  initrd?: string;
  /** Kernel command line (the entry's "options"). */
  options: string;
  /** The entry's "version" (OSTree: higher boots first). */
  version?: string;
  title?: string;
}

/** UEFI firmware: the code (read-only) and this machine's own copy of the variable store. */
export interface Firmware {
  code: string;
  vars: string;
}

export interface VmOptions {
  /** Disk images: the first is the system disk (/dev/vda), the one the firmware boots. */
  disks: { path: string; readonly?: boolean; format?: 'raw' | 'qcow2' }[];
  /** Boot through this firmware (the disk's boot loader) ... */
  firmware?: Firmware;
  /** ... or boot this kernel directly. */
  boot?: BootFiles;
  /** Scratch directory (agent socket). */
  workdir: string;
  /** The guest's serial console goes (appended) here. */
  serialLog: string;
  accel: Accel;
  memoryMiB?: number;
  /**
   * Default 1 under TCG: Debian 13's kernel (6.12) panics early under
   * multi-threaded TCG with 2 vCPUs (an int3 oops in sched_clock_cpu while
   * static keys are patched); 2 under KVM.
   */
  cpus?: number;
}

const OVMF_DIR = '/usr/share/OVMF';

/**
 * OVMF's code (without Secure Boot) and a fresh copy of its variable store
 * in `workdir`, kept for every boot of one machine (its boot entries).
 */
export function ovmfFirmware(workdir: string): Firmware {
  for (const [code, vars] of [
    ['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd'],
    ['OVMF_CODE.fd', 'OVMF_VARS.fd'],
  ]) {
    if (existsSync(join(OVMF_DIR, code)) && existsSync(join(OVMF_DIR, vars))) {
      const copy = join(workdir, `ovmf-${vars}`);
      copyFileSync(join(OVMF_DIR, vars), copy);
      return { code: join(OVMF_DIR, code), vars: copy };
    }
  }
  throw new Error(`no OVMF firmware in ${OVMF_DIR} (apt-get install ovmf)`);
}

interface GptPartition {
  start: number;
  size: number;
  type: string;
}

/** The partitions of a raw GPT disk image (sfdisk --json). */
export function diskPartitions(image: string): GptPartition[] {
  const j = JSON.parse(sh('sfdisk', ['--json', image])) as { partitiontable: { partitions: GptPartition[] } };
  return j.partitiontable.partitions;
}

/** The /boot partition of an image made by `compose image` (the second), as a path debugfs opens at its offset. */
export function bootPartition(image: string): string {
  const p = diskPartitions(image)[1];
  if (!p) throw new Error(`${image} has no second partition (/boot)`);
  return `${image}?offset=${p.start * 512}`;
}

export interface AgentResult {
  code: number;
  output: string;
}

export class GuestCommandError extends Error {
  constructor(
    readonly script: string,
    readonly result: AgentResult,
  ) {
    super(`guest command failed (exit ${result.code}): ${script}\n--- output ---\n${result.output}`);
  }
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The last `n` lines of a file (for failure messages). */
export function tailFile(path: string, n = 60): string {
  if (!existsSync(path)) return '(no serial output)';
  // eslint-disable-next-line no-control-regex -- terminal escape sequences start with ESC
  const text = readFileSync(path, 'utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  return text.split('\n').slice(-n).join('\n');
}

function parseEntry(text: string): Omit<BootFiles, 'kernel' | 'initrd'> & { linux?: string; initrd?: string } {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(line);
    if (m) kv.set(m[1], m[2]);
  }
  return {
    linux: kv.get('linux'),
    initrd: kv.get('initrd'),
    options: kv.get('options') ?? '',
    version: kv.get('version'),
    title: kv.get('title'),
  };
}

/**
 * Read the default boot entry of the /boot partition of a disk made by
 * `compose image` and copy its kernel and initramfs to `outDir` (for direct
 * kernel boots). The journal is replayed first (e2fsck -p), as the next
 * mount would.
 */
export function bootFilesFromImage(disk: string, outDir: string): BootFiles {
  mkdirSync(outDir, { recursive: true });
  const image = bootPartition(disk);
  const fsck = spawnSync('e2fsck', ['-p', image], { encoding: 'utf8' });
  if (fsck.status !== null && fsck.status > 1) throw new Error(`e2fsck -p ${image} failed (${fsck.status}): ${fsck.stdout}${fsck.stderr}`);
  const debugfs = (req: string): string => sh('debugfs', ['-R', req, image]);
  const names = debugfs('ls -p /loader/entries')
    .split('\n')
    .map((l) => l.split('/')[5])
    .filter((n): n is string => n !== undefined && n.endsWith('.conf'));
  if (names.length === 0) throw new Error(`no boot loader entries in ${image}:/loader/entries`);
  const entries = names.map((n) => parseEntry(debugfs(`cat /loader/entries/${n}`)));
  entries.sort((a, b) => Number(b.version ?? 0) - Number(a.version ?? 0));
  const e = entries[0];
  if (!e.linux) throw new Error(`the default boot entry of ${image} has no linux line`);
  const inImage = (p: string): string => (p.startsWith('/') ? p : `/${p}`);
  const kernel = join(outDir, 'vmlinuz');
  debugfs(`dump ${inImage(e.linux)} ${kernel}`);
  let initrd: string | undefined;
  if (e.initrd) {
    initrd = join(outDir, 'initramfs.img');
    debugfs(`dump ${inImage(e.initrd)} ${initrd}`);
  }
  for (const f of [kernel, initrd]) {
    if (f && (!existsSync(f) || statSync(f).size === 0)) throw new Error(`could not extract ${f} from ${image}`);
  }
  return { kernel, initrd, options: e.options, version: e.version, title: e.title };
}

let probedAccel: Accel | undefined;

/**
 * KVM when it works, else TCG. APT_OSTREE_E2E_ACCEL=kvm|tcg decides. KVM is
 * tried with the real kernel: it must print its banner on the serial console
 * within 20 s (on some nested hosts KVM starts but never runs the guest).
 */
export async function chooseAccel(boot: BootFiles, workdir: string): Promise<Accel> {
  const forced = process.env.APT_OSTREE_E2E_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  if (probedAccel) return probedAccel;
  probedAccel = 'tcg';
  try {
    statSync('/dev/kvm');
  } catch {
    return probedAccel;
  }
  const log = join(workdir, 'kvm-probe.log');
  const args = [
    '-accel',
    'kvm',
    '-m',
    '512',
    '-display',
    'none',
    '-vga',
    'none',
    '-monitor',
    'none',
    '-nic',
    'none',
    '-no-reboot',
    '-serial',
    `file:${log}`,
    '-kernel',
    boot.kernel,
    '-append',
    'console=ttyS0 panic=-1 root=/dev/nonexistent',
  ];
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'qemu-system-x86_64', ...args], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  let ok = false;
  while (Date.now() < deadline && child.exitCode === null) {
    await sleep(500);
    if (existsSync(log) && /Linux version/.test(readFileSync(log, 'utf8'))) {
      ok = true;
      break;
    }
  }
  child.kill('SIGKILL');
  await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  probedAccel = ok ? 'kvm' : 'tcg';
  return probedAccel;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One boot of the machine: start, talk to the agent, wait for it to go down. */
export class Vm {
  private child: ChildProcess;
  private socket?: Socket;
  private buffer = '';
  private waiters = new Map<string, (r: AgentResult) => void>();
  private nextId = 1;
  private exited: Promise<number | null>;
  private serialStream?: WriteStream;
  readonly socketPath: string;

  private constructor(readonly opts: VmOptions) {
    this.socketPath = join(opts.workdir, `agent-${process.pid}-${Date.now()}.sock`);
    const drives = opts.disks.flatMap((d, i) => [
      '-drive',
      `file=${d.path},format=${d.format ?? 'raw'},if=none,id=disk${i},cache=unsafe${d.readonly ? ',readonly=on' : ''}`,
      '-device',
      // The firmware boots the system disk first (direct kernel boot takes bootindex 0 itself).
      `virtio-blk-pci,drive=disk${i}${i === 0 && opts.firmware ? ',bootindex=0' : ''}`,
    ]);
    const fw = opts.firmware;
    const boot = opts.boot;
    if (!fw === !boot) throw new Error('a Vm boots either through firmware or a kernel');
    const bootArgs = fw
      ? ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${fw.code}`, '-drive', `if=pflash,format=raw,unit=1,file=${fw.vars}`]
      : ['-kernel', boot?.kernel ?? '', ...(boot?.initrd ? ['-initrd', boot.initrd] : []), '-append', boot?.options ?? ''];
    const args = [
      '-accel',
      opts.accel,
      '-m',
      String(opts.memoryMiB ?? 2048),
      '-smp',
      String(opts.cpus ?? (opts.accel === 'tcg' ? 1 : 2)),
      '-display',
      'none',
      '-vga',
      'none',
      '-monitor',
      'none',
      '-nic',
      'none',
      '-no-reboot',
      '-serial',
      'stdio',
      ...bootArgs,
      ...drives,
      '-device',
      'virtio-serial',
      '-chardev',
      `socket,path=${this.socketPath},server=on,wait=off,id=agent`,
      '-device',
      'virtserialport,chardev=agent,name=org.aptostree.agent',
    ];
    this.serialStream = createWriteStream(opts.serialLog, { flags: 'a' });
    this.serialStream.write(
      `\n===== boot: ${new Date().toISOString()} accel=${opts.accel}\n` +
        (boot
          ? `===== ${boot.title ?? ''} version=${boot.version ?? ''}\n===== append: ${boot.options}\n`
          : `===== firmware: ${fw?.code}\n`),
    );
    // setpriv --pdeathsig: QEMU dies with the test process, even when that is killed.
    this.child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'qemu-system-x86_64', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.pipe(this.serialStream, { end: false });
    this.child.stderr?.on('data', (b: Buffer) => this.serialStream?.write(`[qemu] ${b.toString()}`));
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  static start(opts: VmOptions): Vm {
    return new Vm(opts);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of the serial console. */
  serialTail(n = 60): string {
    return tailFile(this.opts.serialLog, n);
  }

  private failure(msg: string): Error {
    return new Error(`${msg}\n--- last lines of the serial console (${this.opts.serialLog}) ---\n${this.serialTail()}`);
  }

  private async connectSocket(deadline: number): Promise<void> {
    while (!this.socket) {
      if (!this.running) throw this.failure('QEMU exited before the agent channel was up');
      if (Date.now() > deadline) throw this.failure('QEMU did not open the agent socket');
      if (existsSync(this.socketPath)) {
        try {
          this.socket = await new Promise<Socket>((resolve, reject) => {
            const s = connect(this.socketPath);
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          });
          this.socket.on('data', (b: Buffer) => this.onData(b.toString('utf8')));
          this.socket.on('error', () => undefined);
          return;
        } catch {
          /* not listening yet */
        }
      }
      await sleep(200);
    }
  }

  private onData(s: string): void {
    this.buffer += s;
    for (;;) {
      const m = /@@E2E-BEGIN (\S+)\n([^\n]*)\n@@E2E-END \1 (\d+)\n/.exec(this.buffer);
      if (!m) break;
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const w = this.waiters.get(m[1]);
      if (w) {
        this.waiters.delete(m[1]);
        w({ code: Number(m[3]), output: Buffer.from(m[2], 'base64').toString('utf8') });
      }
    }
  }

  private send(script: string): { id: string; result: Promise<AgentResult> } {
    const id = `c${this.nextId++}`;
    const result = new Promise<AgentResult>((resolve) => this.waiters.set(id, resolve));
    this.socket?.write(`${id} ${Buffer.from(script, 'utf8').toString('base64')}\n`);
    return { id, result };
  }

  /** Wait until the agent answers (the guest booted to multi-user). */
  async waitForAgent(timeoutMs: number): Promise<number> {
    const start = Date.now();
    const deadline = start + timeoutMs;
    await this.connectSocket(deadline);
    for (;;) {
      if (!this.running) throw this.failure('the guest went down before its agent answered');
      if (Date.now() > deadline) throw this.failure(`the guest agent did not answer within ${Math.round(timeoutMs / 1000)} s`);
      const { id, result } = this.send('echo ready');
      const r = await Promise.race([result, sleep(3000).then(() => undefined)]);
      if (r && r.output.trim() === 'ready') return Date.now() - start;
      this.waiters.delete(id);
    }
  }

  /** Run a shell script as root in the guest. */
  async run(script: string, timeoutMs = 300_000): Promise<AgentResult> {
    if (!this.socket) throw new Error('the agent is not connected (call waitForAgent first)');
    const { id, result } = this.send(script);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const down = this.exited.then(() => 'down' as const);
    const r = await Promise.race([result, timeout, down]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.waiters.delete(id);
      throw this.failure(`the guest command did not finish within ${Math.round(timeoutMs / 1000)} s: ${script}`);
    }
    if (r === 'down') throw this.failure(`the guest went down while running: ${script}`);
    return r;
  }

  /** Run a shell script in the guest; throw with its output when it fails. */
  async must(script: string, timeoutMs?: number): Promise<string> {
    const r = await this.run(script, timeoutMs);
    if (r.code !== 0) throw new GuestCommandError(script, r);
    return r.output;
  }

  /** Reboot the guest (a clean shutdown: staged deployments are finalized) and wait for QEMU to exit. */
  async shutdown(timeoutMs = 240_000, how: 'reboot' | 'poweroff' = 'reboot'): Promise<void> {
    if (this.running) await this.run(`systemctl --no-block ${how}`, 30_000).catch(() => undefined);
    const r = await Promise.race([this.exited.then(() => 'exited' as const), sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (r === 'timeout') {
      await this.kill();
      throw this.failure(`the guest did not shut down within ${Math.round(timeoutMs / 1000)} s`);
    }
    await this.closeLog();
  }

  /** Stop QEMU at once (SIGKILL by PID). */
  async kill(): Promise<void> {
    this.socket?.destroy();
    if (this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    await this.closeLog();
  }

  private async closeLog(): Promise<void> {
    this.socket?.destroy();
    const s = this.serialStream;
    this.serialStream = undefined;
    if (s) await new Promise((r) => s.end(r));
  }
}
