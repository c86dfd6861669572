/** The kernel arguments of the next boot's deployment, edited as one line. */
import { ActionGroup, Button, Card, CardBody, CardTitle, Form, FormGroup, TextInput } from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { kargsDiff, words } from '../model';

export interface KernelArgsProps {
  current: string[];
  disabledReason?: string;
  onApply(append: string[], remove: string[]): void;
}

export function KernelArgs({ current, disabledReason, onApply }: KernelArgsProps) {
  const joined = current.join(' ');
  const [text, setText] = useState(joined);
  useEffect(() => setText(joined), [joined]);
  const diff = kargsDiff(current, words(text));
  const unchanged = diff.append.length === 0 && diff.remove.length === 0;
  return (
    <Card isCompact data-testid="kargs-editor">
      <CardTitle>Kernel arguments</CardTitle>
      <CardBody>
        <Form
          isHorizontal
          onSubmit={(e) => {
            e.preventDefault();
            if (!unchanged && disabledReason === undefined) onApply(diff.append, diff.remove);
          }}
        >
          <FormGroup label="Next boot" fieldId="aot-kargs">
            <TextInput id="aot-kargs" value={text} isDisabled={disabledReason !== undefined} onChange={(_e, v) => setText(v)} />
          </FormGroup>
          <ActionGroup>
            <Button type="submit" variant="secondary" isDisabled={disabledReason !== undefined || unchanged} title={disabledReason}>
              Apply kernel arguments
            </Button>
          </ActionGroup>
        </Form>
      </CardBody>
    </Card>
  );
}
