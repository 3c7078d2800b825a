import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { seg } from '../api/client';
import type { ArtifactRecord, LineageResponse, StepRunRecord } from '../api/types';

const MAX = 6;

function Column({ title, children, count }: { title: string; children: ReactNode[]; count: number }) {
  return (
    <div className="lg-col" role="group" aria-label={`${title} (${count})`}>
      <span className="lg-title">{title}</span>
      {children.length === 0 ? <span className="muted small">none</span> : children}
      {count > MAX && <span className="muted small">+{count - MAX} more</span>}
    </div>
  );
}

const artifactNode = (a: ArtifactRecord) => (
  <Link key={a.id} to={`/artifacts/${seg(a.id)}`} className="lg-node lg-artifact" title={`${a.name} (${a.type_name})`}>
    {a.name}
  </Link>
);
const stepNode = (s: StepRunRecord) => (
  <Link
    key={`${s.run_id}/${s.step}`}
    to={`/runs/${seg(s.run_id)}?step=${encodeURIComponent(s.step)}`}
    className={`lg-node lg-step status-${s.status}`}
    title={`${s.step}: ${s.status}`}
  >
    {s.step}
  </Link>
);

function Arrow() {
  return (
    <svg className="lg-arrow" width="28" height="12" viewBox="0 0 28 12" aria-hidden="true">
      <path d="M0 6h24M19 1l6 5-6 5" fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}

/** Inputs → producer → this artifact → consumers → derived, as a small left-to-right graph. */
export function LineageGraph({ lineage }: { lineage: LineageResponse }) {
  const { artifact, producer, inputs, consumers, derived } = lineage;
  return (
    <figure className="lineage-graph" aria-label={`Lineage of ${artifact.name}`}>
      <Column title="made from" count={inputs.length}>
        {inputs.slice(0, MAX).map(artifactNode)}
      </Column>
      <Arrow />
      <Column title="produced by" count={producer ? 1 : 0}>
        {producer ? [stepNode(producer)] : []}
      </Column>
      <Arrow />
      <div className="lg-col" role="group" aria-label="This artifact">
        <span className="lg-title">artifact</span>
        <span className="lg-node lg-self" aria-current="page">
          {artifact.name}
        </span>
      </div>
      <Arrow />
      <Column title="read by" count={consumers.length}>
        {consumers.slice(0, MAX).map(stepNode)}
      </Column>
      <Arrow />
      <Column title="derived" count={derived.length}>
        {derived.slice(0, MAX).map(artifactNode)}
      </Column>
    </figure>
  );
}
