/** Layering: add packages by name to a new deployment (removal is on each deployment's package list). */
import { ActionGroup, Button, Card, CardBody, CardTitle, Form, FormGroup, TextInput } from '@patternfly/react-core';
import { useState } from 'react';
import { words } from '../model';

export function Packages({ disabledReason, onInstall }: { disabledReason?: string; onInstall(names: string[]): void }) {
  const [text, setText] = useState('');
  const names = words(text);
  return (
    <Card isCompact data-testid="packages">
      <CardTitle>Layered packages</CardTitle>
      <CardBody>
        <Form
          isHorizontal
          onSubmit={(e) => {
            e.preventDefault();
            if (names.length > 0 && disabledReason === undefined) {
              onInstall(names);
              setText('');
            }
          }}
        >
          <FormGroup label="Add packages" fieldId="aot-install">
            <TextInput
              id="aot-install"
              value={text}
              placeholder="package names, separated by spaces"
              isDisabled={disabledReason !== undefined}
              onChange={(_e, v) => setText(v)}
            />
          </FormGroup>
          <ActionGroup>
            <Button
              type="submit"
              variant="secondary"
              isDisabled={disabledReason !== undefined || names.length === 0}
              title={disabledReason}
            >
              Add packages
            </Button>
          </ActionGroup>
        </Form>
      </CardBody>
    </Card>
  );
}
