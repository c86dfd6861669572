/** Updates: the automatic-update policy and its last run, the available update, and the actions on the boot order. */
import {
  Button,
  Card,
  CardBody,
  CardTitle,
  Checkbox,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
} from '@patternfly/react-core';
import type { AvailableUpdate, LastRun } from '../model';

export interface UpdatesProps {
  policy: string;
  scope: string;
  lastRun: LastRun | null;
  available: AvailableUpdate | null;
  /** The summary of the last check. */
  checkSummary?: string;
  disabledReason?: string;
  /** Why Reboot is unavailable (or undefined when it is), and whether a deployment is pending at all. */
  pending: boolean;
  rebootReason?: string;
  canRollback: boolean;
  reboot: boolean;
  onReboot(v: boolean): void;
  onCheck(): void;
  onUpdate(): void;
  onRollback(): void;
  onRebootNow(): void;
}

function lastRunText(r: LastRun | null): string {
  if (!r) return 'not run yet';
  const when = r.finished ?? r.started;
  return [when ? `at ${when}` : '', r.mode ? `(${r.mode})` : '', r.result ? `: ${r.result}` : '', r.message ? ` - ${r.message}` : '']
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function Updates(p: UpdatesProps) {
  const off = p.disabledReason !== undefined;
  return (
    <Card isCompact data-testid="updates">
      <CardTitle>Updates</CardTitle>
      <CardBody>
        <DescriptionList isHorizontal isCompact>
          <DescriptionListGroup>
            <DescriptionListTerm>Automatic updates</DescriptionListTerm>
            <DescriptionListDescription data-testid="automatic-policy">
              {p.policy} (scope {p.scope})
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Last run</DescriptionListTerm>
            <DescriptionListDescription data-testid="automatic-last-run">{lastRunText(p.lastRun)}</DescriptionListDescription>
          </DescriptionListGroup>
          {p.available ? (
            <DescriptionListGroup>
              <DescriptionListTerm>Available update</DescriptionListTerm>
              <DescriptionListDescription data-testid="available-update">
                {p.available.version ? `version ${p.available.version}, ` : ''}commit <code>{p.available.checksum}</code>
              </DescriptionListDescription>
            </DescriptionListGroup>
          ) : null}
        </DescriptionList>
        {p.checkSummary ? (
          <pre className="aot-summary" data-testid="check-summary">
            {p.checkSummary}
          </pre>
        ) : null}
        <Flex className="aot-actions">
          <Button variant="secondary" isDisabled={off} title={p.disabledReason} onClick={p.onCheck}>
            Check for updates
          </Button>
          <Button variant="primary" isDisabled={off} title={p.disabledReason} onClick={p.onUpdate}>
            Update
          </Button>
          <Button
            variant="secondary"
            isDisabled={off || !p.canRollback}
            title={p.disabledReason ?? (p.canRollback ? undefined : 'There is no rollback deployment')}
            onClick={p.onRollback}
          >
            Roll back
          </Button>
          {p.pending ? (
            <Button variant="warning" isDisabled={p.rebootReason !== undefined} title={p.rebootReason} onClick={p.onRebootNow}>
              Reboot
            </Button>
          ) : null}
          <Checkbox
            id="aot-reboot"
            label="Reboot when the update or roll back is done"
            isChecked={p.reboot}
            isDisabled={off}
            onChange={(_e, v) => p.onReboot(v)}
          />
        </Flex>
        {p.pending && p.rebootReason ? (
          <p className="aot-note" data-testid="reboot-note">
            Reboot: {p.rebootReason}
          </p>
        ) : null}
      </CardBody>
    </Card>
  );
}
