import type { MouseEvent } from 'react';
import { Link, useParams } from 'react-router';
import { apiUrl, ApiError, downloadWithAuth, errorMessage, getToken, seg } from '../api/client';
import type { ArtifactDetailResponse, ArtifactRecord, LineageResponse, StepRunRecord } from '../api/types';
import { PreviewView } from '../components/ArtifactPreview';
import { Empty, ErrorNote, Loading } from '../components/Feedback';
import { StatusBadge } from '../components/StatusIcon';
import { LineageGraph } from '../components/LineageGraph';
import { useApi } from '../hooks/useApi';
import { formatBytes, formatIso, formatJson, formatTime, shortId } from '../util/format';

function ArtifactLinks({ items, empty }: { items: ArtifactRecord[]; empty: string }) {
  if (items.length === 0) return <p className="muted small">{empty}</p>;
  return (
    <ul className="link-list">
      {items.map((a) => (
        <li key={a.id}>
          <Link to={`/artifacts/${seg(a.id)}`}>{a.name}</Link>{' '}
          <span className="muted small">
            from {a.step} in <span className="mono">{shortId(a.run_id)}</span>
          </span>
        </li>
      ))}
    </ul>
  );
}

function StepLink({ step }: { step: StepRunRecord }) {
  return (
    <>
      <Link to={`/runs/${seg(step.run_id)}?step=${encodeURIComponent(step.step)}`}>{step.step}</Link>{' '}
      <span className="muted small">
        in run{' '}
        <Link to={`/runs/${seg(step.run_id)}`} className="mono">
          {shortId(step.run_id)}
        </Link>
      </span>{' '}
      <StatusBadge status={step.status} />
    </>
  );
}

export function ArtifactDetailPage() {
  const { artifactId = '' } = useParams();
  const detail = useApi<ArtifactDetailResponse>(`artifacts/${seg(artifactId)}`);
  const lineage = useApi<LineageResponse>(`artifacts/${seg(artifactId)}/lineage`);

  if (detail.error !== null) {
    const notFound = detail.error instanceof ApiError && detail.error.status === 404;
    return <ErrorNote error={detail.error} title={notFound ? 'Artifact not found' : 'Could not load the artifact'} />;
  }
  if (!detail.data) return <Loading what="artifact" />;
  const a = detail.data.artifact;
  const contentPath = `artifacts/${seg(a.id)}/content`;
  const download = (e: MouseEvent<HTMLAnchorElement>) => {
    if (!getToken()) return; // a plain link works without auth
    e.preventDefault();
    downloadWithAuth(contentPath, a.name).catch((err: unknown) => alert(`Download failed: ${errorMessage(err)}`));
  };
  const metadata = Object.entries(a.metadata ?? {});

  return (
    <div className="artifact-page">
      <header className="run-header">
        <p className="eyebrow">
          <Link to="/artifacts">Artifacts</Link> / <span className="mono">{a.id}</span>
        </p>
        <div className="run-title-row">
          <h1>{a.name}</h1>
          <a className="btn" href={apiUrl(contentPath).toString()} download={a.name} onClick={download}>
            Download ({formatBytes(a.size)})
          </a>
        </div>
        <dl className="run-facts">
          <div>
            <dt>Type</dt>
            <dd className="mono">{a.type_name}</dd>
          </div>
          <div>
            <dt>Produced by</dt>
            <dd>
              <Link to={`/runs/${seg(a.run_id)}?step=${encodeURIComponent(a.step)}`}>{a.step}</Link> in{' '}
              <Link to={`/runs/${seg(a.run_id)}`} className="mono">
                {shortId(a.run_id)}
              </Link>
            </dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <time dateTime={formatIso(a.created_at)}>{formatTime(a.created_at)}</time>
            </dd>
          </div>
          <div>
            <dt>Materializer</dt>
            <dd className="mono">{a.materializer}</dd>
          </div>
        </dl>
      </header>
      <div className="artifact-grid">
        <section className="card" aria-labelledby="preview-title">
          <div className="card-head">
            <h2 id="preview-title">Preview</h2>
            <span className="muted small">{detail.data.preview.kind}</span>
          </div>
          <PreviewView preview={detail.data.preview} size={a.size} />
        </section>
        <div className="stack">
          <section className="card" aria-labelledby="lineage-title">
            <div className="card-head">
              <h2 id="lineage-title">Lineage</h2>
            </div>
            {lineage.error !== null && <ErrorNote error={lineage.error} />}
            {lineage.data ? (
              <div className="lineage">
                <LineageGraph lineage={lineage.data} />
                <h3>Producer</h3>
                {lineage.data.producer ? <StepLink step={lineage.data.producer} /> : <p className="muted small">Unknown.</p>}
                <h3>Made from</h3>
                <ArtifactLinks items={lineage.data.inputs} empty="No input artifacts." />
                <h3>Consumed by</h3>
                {lineage.data.consumers.length === 0 ? (
                  <p className="muted small">No step has read it yet.</p>
                ) : (
                  <ul className="link-list">
                    {lineage.data.consumers.map((s) => (
                      <li key={`${s.run_id}/${s.step}`}>
                        <StepLink step={s} />
                      </li>
                    ))}
                  </ul>
                )}
                <h3>Derived artifacts</h3>
                <ArtifactLinks items={lineage.data.derived} empty="None yet." />
              </div>
            ) : (
              !lineage.error && <Loading what="lineage" />
            )}
          </section>
          <section className="card" aria-labelledby="meta-title">
            <div className="card-head">
              <h2 id="meta-title">Metadata</h2>
            </div>
            <dl className="facts">
              <dt>Id</dt>
              <dd className="mono break">{a.id}</dd>
              <dt>URI</dt>
              <dd className="mono break">{a.uri}</dd>
              <dt>Content hash</dt>
              <dd className="mono break">{a.content_hash}</dd>
              <dt>Size</dt>
              <dd>{formatBytes(a.size)}</dd>
              {metadata.map(([k, v]) => (
                <div key={k} className="contents">
                  <dt>{k}</dt>
                  <dd className="mono break">{typeof v === 'string' ? v : formatJson(v)}</dd>
                </div>
              ))}
            </dl>
            {metadata.length === 0 && <Empty>No extra metadata.</Empty>}
          </section>
        </div>
      </div>
    </div>
  );
}
