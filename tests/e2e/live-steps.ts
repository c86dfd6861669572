/**
 * Steps of the QEMU boot chain (tests/e2e/boot.test.ts) for the changes
 * without a reboot: apply-live, install -A and usroverlay on the booted guest.
 * Each takes the running guest and throws (assert) when the behaviour is
 * wrong. They use the fixture package of the data disk (FIXTURE_PKG, whose
 * command prints "hello from the e2e fixture"), nothing else.
 *
 * Order in the chain (see the report of the change that added them):
 *   boot 1, after the unprivileged-user check (booted: the plain base, nothing pending):
 *     liveInstallApplyLive, liveStatus, liveUsrOverlayRefusedWhileTransient, liveResetRemovesAddition
 *   boot 2, after the install + reboot step (booted: the layered deployment, nothing pending):
 *     liveReplacementRefused, liveUsrOverlayWritable
 *   boot 3, after the rollback + reboot step:
 *     liveUsrOverlayGoneAfterReboot
 */
import assert from 'node:assert/strict';
import type { Vm } from '../lib/qemu';
import { FIXTURE_PKG } from './image';

const OP_TIMEOUT = 600_000;
const HELLO = 'hello from the e2e fixture';
const USROVERLAY_FILE = '/usr/share/e2e-usroverlay-write';

interface LiveDeployment {
  checksum: string;
  booted: boolean;
  staged: boolean;
  unlocked: string;
  'live-replaced'?: string;
  'live-inprogress'?: string;
  'live-changes'?: { added: string[]; changed: string[]; removed: string[]; etc: string[] };
}

async function deployments(vm: Vm): Promise<LiveDeployment[]> {
  const out = await vm.must('apt-ostree status --json');
  return (JSON.parse(out.slice(out.indexOf('{'))) as { deployments: LiveDeployment[] }).deployments;
}

async function booted(vm: Vm): Promise<LiveDeployment> {
  const b = (await deployments(vm)).find((d) => d.booted);
  assert.ok(b, 'status --json marks a booted deployment');
  return b;
}

/** /usr is read-only to everyone but apt-ostree's writer (the transient overlay, or the plain deployment). */
async function usrReadOnly(vm: Vm): Promise<void> {
  const r = await vm.run('touch /usr/.e2e-probe');
  assert.notEqual(r.code, 0, `/usr must stay read-only for the system:\n${r.output}`);
}

/** install -A: the new deployment is made, and its command runs in this same boot. */
export async function liveInstallApplyLive(vm: Vm): Promise<void> {
  const before = await booted(vm);
  assert.equal(before.unlocked, 'none', 'the guest starts locked');
  assert.notEqual((await vm.run(`command -v ${FIXTURE_PKG}`)).code, 0, `${FIXTURE_PKG} is not there yet`);
  const out = await vm.must(`apt-ostree install -A ${FIXTURE_PKG}`, OP_TIMEOUT);
  assert.doesNotMatch(out, /running in-process/, `the client went through the daemon:\n${out}`);
  assert.match(out, /Applied live/, out);
  assert.equal((await vm.must(FIXTURE_PKG)).trim(), HELLO, 'the new command runs without a reboot');
  const ds = await deployments(vm);
  const staged = ds.find((d) => d.staged);
  assert.ok(staged, `install -A also staged the deployment for the next boot: ${JSON.stringify(ds)}`);
  const b = ds.find((d) => d.booted)!;
  assert.equal(b.checksum, before.checksum, 'the same deployment is still booted');
  assert.equal(b['live-replaced'], staged.checksum, 'the live commit is the staged one');
  await usrReadOnly(vm);
}

/** status: the live state of the booted deployment, as rpm-ostree shows it. */
export async function liveStatus(vm: Vm): Promise<void> {
  const b = await booted(vm);
  assert.equal(b.unlocked, 'transient', JSON.stringify(b));
  assert.ok(b['live-replaced'], JSON.stringify(b));
  assert.equal(b['live-inprogress'], undefined);
  assert.ok(b['live-changes']?.added.includes(`/usr/bin/${FIXTURE_PKG}`), JSON.stringify(b['live-changes']));
  const text = await vm.must('apt-ostree status');
  assert.match(text, /Unlocked: transient/, text);
  assert.match(text, new RegExp(`LiveCommit: ${b['live-replaced']!.slice(0, 10)}`), text);
  assert.match(text, new RegExp(`LiveCommands: .*/usr/bin/${FIXTURE_PKG}`), text);
}

/** usroverlay on a deployment apply-live unlocked: refused, naming the state. */
export async function liveUsrOverlayRefusedWhileTransient(vm: Vm): Promise<void> {
  const r = await vm.run('apt-ostree usroverlay', OP_TIMEOUT);
  assert.notEqual(r.code, 0, r.output);
  assert.match(r.output, /already unlocked \(transient\)/, r.output);
  await usrReadOnly(vm);
}

/**
 * apply-live --reset: the live addition is gone again in the same boot; then the
 * pending deployment is dropped (cleanup -p) so that the chain goes on as without these steps.
 */
export async function liveResetRemovesAddition(vm: Vm): Promise<void> {
  await vm.must('apt-ostree apply-live --reset', OP_TIMEOUT);
  assert.notEqual((await vm.run(`command -v ${FIXTURE_PKG}`)).code, 0, `${FIXTURE_PKG} is gone after --reset`);
  const b = await booted(vm);
  assert.equal(b['live-replaced'], undefined, JSON.stringify(b));
  await usrReadOnly(vm);
  await vm.must('apt-ostree cleanup -p', OP_TIMEOUT);
  assert.ok(!(await deployments(vm)).some((d) => d.staged), 'no pending deployment left');
}

/**
 * A pending deployment that removes a file of the booted tree (uninstall of the
 * booted layered package): apply-live refuses and names it; nothing changes.
 * The pending deployment is dropped again afterwards.
 */
export async function liveReplacementRefused(vm: Vm): Promise<void> {
  assert.equal((await vm.must(FIXTURE_PKG)).trim(), HELLO, `the booted deployment has ${FIXTURE_PKG}`);
  await vm.must(`apt-ostree uninstall ${FIXTURE_PKG}`, OP_TIMEOUT);
  const r = await vm.run('apt-ostree apply-live', OP_TIMEOUT);
  assert.notEqual(r.code, 0, `apply-live of a removal must be refused:\n${r.output}`);
  assert.match(r.output, new RegExp(`removed /usr/bin/${FIXTURE_PKG}`), r.output);
  assert.match(r.output, /--allow-replacement/, r.output);
  assert.equal((await vm.must(FIXTURE_PKG)).trim(), HELLO, 'nothing changed in the running system');
  const b = await booted(vm);
  assert.equal(b.unlocked, 'none', 'the refusal did not even unlock /usr');
  assert.equal(b['live-replaced'], undefined);
  await vm.must('apt-ostree cleanup -p', OP_TIMEOUT);
}

/** usroverlay: /usr becomes writable (development unlock) in this boot; a second one is refused. */
export async function liveUsrOverlayWritable(vm: Vm): Promise<void> {
  await vm.must('apt-ostree usroverlay', OP_TIMEOUT);
  await vm.must(`echo written > ${USROVERLAY_FILE}`);
  assert.equal((await vm.must(`cat ${USROVERLAY_FILE}`)).trim(), 'written');
  assert.equal((await booted(vm)).unlocked, 'development');
  const again = await vm.run('apt-ostree usroverlay', OP_TIMEOUT);
  assert.notEqual(again.code, 0, again.output);
  assert.match(again.output, /already unlocked \(development\)/, again.output);
}

/** After a reboot the usroverlay write is gone and the deployment is locked again. */
export async function liveUsrOverlayGoneAfterReboot(vm: Vm): Promise<void> {
  assert.notEqual((await vm.run(`test -e ${USROVERLAY_FILE}`)).code, 0, `${USROVERLAY_FILE} is gone after the reboot`);
  assert.equal((await booted(vm)).unlocked, 'none');
  await usrReadOnly(vm);
}
