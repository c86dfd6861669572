/** An error as the engine reports it: its message, and its hint when there is one. */
import { Alert, AlertActionCloseButton } from '@patternfly/react-core';
import type { ShownError } from '../dbus';

export function ErrorAlert({ title, error, onClose }: { title: string; error: ShownError; onClose?: () => void }) {
  return (
    <Alert
      variant="danger"
      isInline
      title={title}
      data-testid="error"
      actionClose={onClose ? <AlertActionCloseButton onClose={onClose} /> : undefined}
    >
      <p className="aot-error-message">{error.message}</p>
      {error.hint ? <p className="aot-error-hint">Hint: {error.hint}</p> : null}
    </Alert>
  );
}
