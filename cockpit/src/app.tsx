/**
 * The page: loads the status and the daemon's properties, follows the
 * daemon's property changes, runs one operation at a time as a transaction
 * and shows its progress, its result or its error.
 */
import { Alert, AlertActionCloseButton, Button, Content, PageSection, Title } from '@patternfly/react-core';
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { Cockpit } from './cockpit';
import { DaemonClient, toShownError, type DaemonProperties, type Options, type ShownError, type TransactionEvent } from './dbus';
import { pendingDeployment, type Status, type TransactionResult } from './model';
import { Deployments } from './components/Deployments';
import { ErrorAlert } from './components/ErrorAlert';
import { KernelArgs } from './components/KernelArgs';
import { Packages } from './components/Packages';
import { TransactionProgress, type RunningState } from './components/Progress';
import { Updates } from './components/Updates';

const NOT_ADMIN =
  'you do not have administrative access in this session: turn it on in Cockpit ("Limited access" in the top bar) to change the system';

function applyEvent(r: RunningState | null, e: TransactionEvent): RunningState | null {
  if (!r) return r;
  switch (e.kind) {
    case 'task-begin':
      return { ...r, task: e.name, percent: undefined, percentText: undefined };
    case 'task-end':
      return { ...r, messages: e.summary ? [...r.messages, e.summary] : r.messages };
    case 'message':
      return { ...r, messages: [...r.messages, e.text] };
    case 'percent':
      return { ...r, percent: e.percent, percentText: e.text };
    case 'download':
      return e.total > 0
        ? { ...r, percent: Math.round((100 * e.done) / e.total), percentText: `Downloading: ${e.done} of ${e.total} bytes` }
        : r;
    case 'finished':
      return { ...r, task: e.success ? 'Done' : 'Failed' };
  }
}

interface Operation {
  title: string;
  method: string;
  signature: string;
  args: unknown[];
  options: Options;
  onSuccess?(r: TransactionResult): void;
}

export function App({ cockpit }: { cockpit: Cockpit }) {
  const client = useMemo(() => new DaemonClient(cockpit), [cockpit]);
  const [status, setStatus] = useState<Status | null>(null);
  const [props, setProps] = useState<DaemonProperties | null>(null);
  const [loadError, setLoadError] = useState<ShownError | null>(null);
  const [admin, setAdmin] = useState<boolean | null>(null);
  const [running, setRunning] = useState<RunningState | null>(null);
  const [failure, setFailure] = useState<{ title: string; error: ShownError } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [checkSummary, setCheckSummary] = useState<string | undefined>();
  const [reboot, setReboot] = useState(false);

  const refresh = useCallback(async () => {
    try {
      const [st, pr] = await Promise.all([client.status(), client.properties()]);
      setStatus(st);
      setProps(pr);
      setLoadError(null);
    } catch (e) {
      setLoadError(toShownError(e));
    }
  }, [client]);

  useEffect(() => {
    void refresh();
    return client.onPropertiesChanged(() => void refresh());
  }, [client, refresh]);

  useEffect(() => {
    const p = cockpit.permission({ admin: true });
    const update = (): void => setAdmin(p.allowed);
    p.addEventListener('changed', update);
    update();
    return () => p.close();
  }, [cockpit]);

  const run = useCallback(
    async (op: Operation) => {
      setFailure(null);
      setNotice(null);
      setRunning({ title: op.title, messages: [], cancelling: false });
      try {
        const r = await client.run(
          op.method,
          op.signature,
          op.args,
          op.options,
          (e) => setRunning((prev) => applyEvent(prev, e)),
          (path) => setRunning((prev) => (prev ? { ...prev, path } : prev)),
        );
        if (!r.success) {
          setFailure({
            title: r.code === 'cancelled' ? `${op.title}: cancelled` : `${op.title} failed`,
            error: { message: r.error ?? r.summary, ...(r.hint ? { hint: r.hint } : {}) },
          });
        } else if (op.onSuccess) {
          op.onSuccess(r);
        } else {
          // What a check found is out of date once the deployments change.
          if (r.changed) setCheckSummary(undefined);
          let text = r.summary;
          if (r.changed && r.rebootRequested) {
            if (props?.sysroot === '/') {
              text += '\nRebooting';
              await client.reboot(cockpit);
            } else text += `\nNot rebooting: ${props?.sysroot ?? 'the sysroot'} is not the running system`;
          }
          setNotice(text);
        }
      } catch (e) {
        setFailure({ title: `${op.title} failed`, error: toShownError(e) });
      } finally {
        setRunning(null);
        void refresh();
      }
    },
    [client, cockpit, props, refresh],
  );

  const cancel = useCallback(async () => {
    const path = running?.path;
    if (!path) return;
    setRunning((prev) => (prev ? { ...prev, cancelling: true } : prev));
    try {
      await client.cancel(path);
    } catch (e) {
      setFailure({ title: 'Cancel failed', error: toShownError(e) });
    }
  }, [client, running]);

  const rebootNow = useCallback(async () => {
    try {
      await client.reboot(cockpit);
    } catch (e) {
      setFailure({ title: 'Reboot failed', error: toShownError(e) });
    }
  }, [client, cockpit]);

  const disabledReason =
    admin === false
      ? NOT_ADMIN
      : admin === null
        ? 'checking your access'
        : running
          ? 'an operation of this page is running'
          : !status
            ? 'the status of apt-ostreed could not be read'
            : undefined;
  const deployments = status?.deployments ?? [];
  const next = deployments.find((d) => d.isDefault) ?? deployments[0];
  const pending = status ? pendingDeployment(status) !== undefined : false;
  const rebootReason =
    disabledReason ?? (props && props.sysroot !== '/' ? `the daemon manages ${props.sysroot}, not the running system` : undefined);
  // Who holds the daemon: GetStatus names the transaction; the property alone gives at least its path.
  const busy = running
    ? null
    : (status?.transaction ??
      (props && props.activeTransaction !== '/'
        ? { title: props.activeTransaction, initiator: '', path: props.activeTransaction, state: 'active' }
        : null));
  const opts = (o: Options): Options => (reboot ? { ...o, reboot: true } : o);

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Software updates (OSTree)</Title>
        <Content component="p" data-testid="daemon-info">
          {props ? `apt-ostreed ${props.version}, managing ${props.sysroot}` : 'Connecting to apt-ostreed...'}{' '}
          <Button variant="link" isInline onClick={() => void refresh()}>
            Refresh
          </Button>
        </Content>
        {admin === false ? (
          <Alert variant="info" isInline title="Read-only" data-testid="read-only">
            You can look, but not change anything: {NOT_ADMIN}.
          </Alert>
        ) : null}
        {busy ? (
          <Alert variant="warning" isInline title="Busy" data-testid="busy">
            Another transaction is running: &quot;{busy.title}&quot; ({busy.state}), started by {busy.initiator || 'an unknown client'}.
          </Alert>
        ) : null}
        {loadError ? <ErrorAlert title="Cannot read the status from apt-ostreed" error={loadError} /> : null}
        {failure ? <ErrorAlert title={failure.title} error={failure.error} onClose={() => setFailure(null)} /> : null}
        {notice ? (
          <Alert
            variant="success"
            isInline
            title="Done"
            data-testid="notice"
            actionClose={<AlertActionCloseButton onClose={() => setNotice(null)} />}
          >
            <pre className="aot-summary">{notice}</pre>
          </Alert>
        ) : null}
        {running ? <TransactionProgress running={running} onCancel={() => void cancel()} /> : null}
      </PageSection>
      <PageSection>
        <Updates
          policy={status?.policy ?? props?.policy ?? 'none'}
          scope={status?.scope ?? props?.scope ?? 'full'}
          lastRun={status?.lastRun ?? null}
          available={status?.available ?? null}
          checkSummary={checkSummary}
          disabledReason={disabledReason}
          pending={pending}
          rebootReason={rebootReason}
          canRollback={deployments.some((d) => d.rollback)}
          reboot={reboot}
          onReboot={setReboot}
          onCheck={() =>
            void run({
              title: 'Checking for updates',
              method: 'UpgradeSystem',
              signature: '',
              args: [],
              options: { preview: true },
              onSuccess: (r) => setCheckSummary(r.summary),
            })
          }
          onUpdate={() => void run({ title: 'Updating', method: 'UpgradeSystem', signature: '', args: [], options: opts({}) })}
          onRollback={() => void run({ title: 'Rolling back', method: 'Rollback', signature: '', args: [], options: opts({}) })}
          onRebootNow={() => void rebootNow()}
        />
      </PageSection>
      <PageSection>
        <Title headingLevel="h2">Deployments</Title>
        <Deployments
          deployments={deployments}
          disabledReason={disabledReason}
          onRemovePackage={(name) =>
            void run({ title: `Removing ${name}`, method: 'RemovePackages', signature: 'as', args: [[name]], options: {} })
          }
        />
      </PageSection>
      <PageSection>
        <Packages
          disabledReason={disabledReason}
          onInstall={(names) =>
            void run({ title: `Adding ${names.join(' ')}`, method: 'InstallPackages', signature: 'as', args: [names], options: {} })
          }
        />
        {next ? (
          <KernelArgs
            current={next.kargs}
            disabledReason={disabledReason}
            onApply={(append, remove) =>
              void run({
                title: 'Changing kernel arguments',
                method: 'ModifyKernelArgs',
                signature: 'asasas',
                args: [append, remove, []],
                options: {},
              })
            }
          />
        ) : null}
      </PageSection>
    </>
  );
}
