/** The deployments in boot order, each with what `apt-ostree status` shows of it. */
import {
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Label,
  LabelGroup,
} from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { deploymentLabels, type Deployment } from '../model';

const LABEL_COLOR: Record<string, 'green' | 'blue' | 'orange' | 'purple' | 'grey'> = {
  Booted: 'green',
  Pending: 'blue',
  Staged: 'blue',
  Rollback: 'orange',
  Pinned: 'purple',
};

function Field({ term, children }: { term: string; children: ReactNode }) {
  return (
    <DescriptionListGroup>
      <DescriptionListTerm>{term}</DescriptionListTerm>
      <DescriptionListDescription>{children}</DescriptionListDescription>
    </DescriptionListGroup>
  );
}

export interface DeploymentsProps {
  deployments: Deployment[];
  /** Why changing actions are unavailable, or undefined when they are. */
  disabledReason?: string;
  onRemovePackage(name: string): void;
}

export function Deployments({ deployments, disabledReason, onRemovePackage }: DeploymentsProps) {
  if (deployments.length === 0) return <p>No deployments.</p>;
  return (
    <>
      {deployments.map((d, i) => {
        const labels = deploymentLabels(d, deployments);
        const layered = d.baseChecksum !== d.checksum;
        return (
          <Card key={d.id} className="aot-deployment" data-testid="deployment" data-checksum={d.checksum} isCompact>
            <CardHeader>
              <CardTitle>
                {i}: {d.origin ?? `${d.checksum.slice(0, 10)} (no origin)`}{' '}
                <LabelGroup>
                  {labels.map((l) => (
                    <Label key={l} color={LABEL_COLOR[l] ?? 'grey'} data-testid="deployment-label">
                      {l}
                    </Label>
                  ))}
                </LabelGroup>
              </CardTitle>
            </CardHeader>
            <CardBody>
              <DescriptionList isHorizontal isCompact>
                <Field term="Origin">{d.origin ?? (d.originError ? `unreadable: ${d.originError}` : 'none')}</Field>
                <Field term="Version">{d.version ?? '(none)'}</Field>
                <Field term="Date">{new Date(d.timestamp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Field>
                <Field term="Commit">
                  <code className="aot-commit">{d.checksum}</code>
                </Field>
                {layered ? (
                  <Field term="Base commit">
                    <code>{d.baseChecksum}</code>
                  </Field>
                ) : null}
                {d.overrideCommit ? (
                  <Field term="Revision">
                    <code>{d.overrideCommit}</code>
                  </Field>
                ) : null}
                <Field term="Layered packages">
                  {d.requestedPackages.length === 0 ? (
                    'none'
                  ) : (
                    <ul className="aot-packages" data-testid="layered-packages">
                      {d.requestedPackages.map((p) => (
                        <li key={p}>
                          <span className="aot-package">{p}</span>
                          {!layered ? ' (requested, not yet applied)' : null}
                          {d.isDefault ? (
                            <Button
                              variant="link"
                              isInline
                              className="aot-remove"
                              aria-label={`Remove ${p}`}
                              isDisabled={disabledReason !== undefined}
                              title={disabledReason ?? `Remove ${p} in a new deployment`}
                              onClick={() => onRemovePackage(p)}
                            >
                              remove
                            </Button>
                          ) : null}
                        </li>
                      ))}
                    </ul>
                  )}
                </Field>
                {d.localPackages.length > 0 ? <Field term="Local packages">{d.localPackages.join(' ')}</Field> : null}
                {d.baseRemovals.length > 0 ? <Field term="Removed base packages">{d.baseRemovals.join(' ')}</Field> : null}
                {d.baseReplacements.length > 0 ? <Field term="Replaced base packages">{d.baseReplacements.join(' ')}</Field> : null}
                <Field term="Kernel arguments">
                  <code data-testid="kargs">{d.kargs.join(' ') || '(none)'}</code>
                </Field>
              </DescriptionList>
            </CardBody>
          </Card>
        );
      })}
    </>
  );
}
