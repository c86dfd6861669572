/** A transaction in progress: its title, the current task, a progress bar and the messages, with Cancel. */
import { Button, Card, CardBody, CardTitle, Progress } from '@patternfly/react-core';

export interface RunningState {
  title: string;
  path?: string;
  task?: string;
  percent?: number;
  percentText?: string;
  messages: string[];
  cancelling: boolean;
}

export function TransactionProgress({ running, onCancel }: { running: RunningState; onCancel(): void }) {
  const pct = running.percent;
  return (
    <Card data-testid="progress" isCompact>
      <CardTitle>{running.title}</CardTitle>
      <CardBody>
        <p data-testid="progress-task">{running.task ?? 'Waiting for the daemon...'}</p>
        <Progress
          value={pct ?? 0}
          title={running.percentText}
          aria-label="Progress of the transaction"
          measureLocation={pct === undefined ? 'none' : 'outside'}
        />
        {running.messages.length > 0 ? (
          <pre className="aot-messages" data-testid="progress-messages">
            {running.messages.slice(-12).join('\n')}
          </pre>
        ) : null}
        <Button variant="secondary" isDisabled={!running.path || running.cancelling} onClick={onCancel}>
          {running.cancelling ? 'Cancelling...' : 'Cancel'}
        </Button>
      </CardBody>
    </Card>
  );
}
