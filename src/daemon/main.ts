/**
 * apt-ostreed: the privileged service. It owns org.aptostree.dev on the
 * system bus (DBUS_SYSTEM_BUS_ADDRESS when set), serves one sysroot, runs
 * transactions one at a time, and exits after IdleExitTimeout without work.
 *
 *   apt-ostreed [--sysroot PATH] [--config FILE]
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BusConnection, systemBusAddress } from '../dbus/bus';
import { BUS_NAME } from '../dbus/contract';
import { AptOstreeError, isAptOstreeError } from '../engine/errors';
import { log } from '../engine/log';
import { DEFAULT_DAEMON_CONFIG, loadDaemonConfig, type DaemonConfig } from '../engine/config';
import { VERSION } from '../engine/version';
import { recoverSysroot } from './recovery';
import { DaemonService } from './service';

const USAGE = `Usage: apt-ostreed [--sysroot PATH] [--config FILE]

The apt-ostree daemon: owns ${'org.aptostree.dev'} on the system bus and runs
changes to the sysroot (default /) as transactions for apt-ostree clients.

  --sysroot PATH   OSTree sysroot to serve (default /)
  --config FILE    configuration file (default /etc/apt-ostree/apt-ostreed.conf,
                   or $APT_OSTREE_CONFIG)
  --version        print the version
`;

interface Args {
  sysroot: string;
  config?: string;
}

function parseArgs(argv: string[]): Args | 'help' | 'version' {
  const a: Args = { sysroot: '/' };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const take = (name: string): string => {
      if (x.startsWith(`${name}=`)) return x.slice(name.length + 1);
      const v = argv[++i];
      if (v === undefined || v === '') throw new AptOstreeError('usage', `${name} needs a value`);
      return v;
    };
    if (x === '--help' || x === '-h') return 'help';
    if (x === '--version') return 'version';
    if (x === '--sysroot' || x.startsWith('--sysroot=')) a.sysroot = resolve(take('--sysroot'));
    else if (x === '--config' || x.startsWith('--config=')) a.config = take('--config');
    else throw new AptOstreeError('usage', `unknown argument "${x}"`, { hint: 'apt-ostreed --help' });
  }
  return a;
}

export async function runDaemon(args: Args): Promise<number> {
  let config: DaemonConfig = { ...DEFAULT_DAEMON_CONFIG };
  /** (Re)read the configuration: never throws; bad values are logged (key and value) and the previous ones kept. */
  const load = (): string[] => {
    const r = loadDaemonConfig(args.config, config);
    config = r.config;
    if (process.env.APT_OSTREE_LOG_LEVEL === undefined) log.setLevel(config.logLevel);
    for (const p of r.problems) log.warning(p);
    return r.problems;
  };
  load();
  if (!existsSync(resolve(args.sysroot, 'ostree', 'repo'))) {
    throw new AptOstreeError('not-a-sysroot', `${args.sysroot} is not an OSTree sysroot (no ostree/repo)`, {
      hint: 'start apt-ostreed with --sysroot PATH of a sysroot',
    });
  }
  await recoverSysroot(args.sysroot);

  const address = systemBusAddress();
  const bus = await BusConnection.connect(address);
  let exiting = false;
  return new Promise<number>((resolveExit) => {
    const exit = (code: number): void => {
      if (exiting) return;
      exiting = true;
      bus.close();
      resolveExit(code);
    };
    const service = new DaemonService(bus, {
      sysroot: args.sysroot,
      config: () => config,
      reload: load,
      linger: numberEnv('APT_OSTREE_DAEMON_LINGER'),
      startTimeout: numberEnv('APT_OSTREE_DAEMON_START_TIMEOUT'),
      onIdle: () => exit(0),
    });
    bus.on('disconnect', (e?: Error) => {
      if (exiting) return;
      log.error(`lost the bus connection${e ? `: ${e.message}` : ''}; exiting`);
      service.cancelAll('the daemon lost its bus connection');
      exiting = true;
      resolveExit(1);
    });
    const onSignal = (sig: string): void => {
      log.notice(`${sig}: cancelling what runs and exiting`);
      service.cancelAll(`the daemon received ${sig}`);
      const wait = (): void => {
        if (!service.busy) exit(0);
        else setTimeout(wait, 100);
      };
      wait();
      setTimeout(() => exit(1), 15000).unref();
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGHUP', () => {
      log.notice('SIGHUP: reloading the configuration');
      service.reload();
    });
    (async () => {
      await service.start();
      if (!(await bus.requestName(BUS_NAME))) {
        log.error(`cannot own ${BUS_NAME} on ${address}: another apt-ostreed runs, or the bus policy does not let this user own it`);
        exit(1);
        return;
      }
      log.notice(`apt-ostreed serving ${args.sysroot} as ${BUS_NAME} on ${address} (${bus.uniqueName})`);
    })().catch((e: unknown) => {
      log.error(`start-up failed: ${(e as Error).message}`);
      exit(1);
    });
  });
}

function numberEnv(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && /^\d+(\.\d+)?$/.test(v) ? Number(v) : undefined;
}

export function main(argv: string[]): void {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv.slice(2));
  } catch (e) {
    process.stderr.write(`apt-ostreed: ${(e as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (args === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  runDaemon(args)
    .then((code) => process.exit(code))
    .catch((e: unknown) => {
      log.error(isAptOstreeError(e) ? e.describe() : `internal error: ${(e as Error).stack ?? String(e)}`);
      process.exit(1);
    });
}
