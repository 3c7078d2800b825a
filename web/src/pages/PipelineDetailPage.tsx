import { useMemo } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, seg } from '../api/client';
import type { PipelineDetailResponse } from '../api/types';
import { DagView } from '../components/LazyDagView';
import { PipelineSteps } from '../components/PipelineSteps';
import { RecentRunsChart } from '../components/RecentRunsChart';
import { recentByPipeline } from '../state/runsView';
import { Empty, ErrorNote, Loading } from '../components/Feedback';
import { RunsTable } from '../components/RunsTable';
import { TriggerForm } from '../components/TriggerForm';
import { useApi } from '../hooks/useApi';
import { useLiveRuns } from '../hooks/useLiveRuns';
import { shortId } from '../util/format';

export function PipelineDetailPage() {
  const { name = '' } = useParams();
  const { data, error, loading } = useApi<PipelineDetailResponse>(`pipelines/${seg(name)}`);
  const runs = useLiveRuns({ pipeline: name, status: '', tag: '' }, 50);
  const trend = useMemo(() => recentByPipeline(runs.state.items, 30)[0] ?? null, [runs.state.items]);

  if (error !== null) {
    const notFound = error instanceof ApiError && error.status === 404;
    return <ErrorNote error={error} title={notFound ? 'Pipeline not found' : 'Could not load the pipeline'} />;
  }
  if (loading || !data) return <Loading what="pipeline" />;
  const recent = (runs.state.items.length > 0 || runs.loading ? runs.state.items : data.recent_runs).slice(0, 10);
  const finished = runs.state.items.filter((r) => r.status !== 'running');
  const succeeded = finished.filter((r) => r.status === 'succeeded').length;

  return (
    <div className="pipeline-page">
      <header className="run-header">
        <p className="eyebrow">
          <Link to="/pipelines">Pipelines</Link> / {data.name}
        </p>
        <h1>{data.name}</h1>
        <dl className="run-facts">
          <div>
            <dt>Code version</dt>
            <dd className="mono" title={data.code_version}>
              {shortId(data.code_version, 12)}
            </dd>
          </div>
          <div>
            <dt>Steps</dt>
            <dd>{data.dag.nodes.length}</dd>
          </div>
          <div>
            <dt>Success rate</dt>
            <dd data-success-rate>
              {finished.length > 0
                ? `${Math.round((100 * succeeded) / finished.length)}% of the last ${finished.length} finished runs`
                : '—'}
            </dd>
          </div>
          <div>
            <dt>Can run from here</dt>
            <dd>{data.registered ? 'yes' : 'no (not registered in this server)'}</dd>
          </div>
        </dl>
      </header>
      <section className="card" aria-labelledby="pdag-title">
        <div className="card-head">
          <h2 id="pdag-title">Graph</h2>
        </div>
        {data.dag.nodes.length > 0 ? <DagView dag={data.dag} label={`DAG of pipeline ${data.name}`} maxHeight={420} /> : <Empty>No steps.</Empty>}
      </section>
      {trend && (
        <section className="card" aria-labelledby="trend-title">
          <div className="card-head">
            <h2 id="trend-title">Duration trend</h2>
            <span className="muted small">bar height: duration; colour: outcome</span>
          </div>
          <RecentRunsChart recent={trend} />
        </section>
      )}
      <section className="card" aria-labelledby="steps-title">
        <div className="card-head">
          <h2 id="steps-title">Steps</h2>
        </div>
        <PipelineSteps nodes={data.dag.nodes} />
      </section>
      <div className={data.registered ? 'pipeline-grid' : ''}>
        {data.registered && (
          <section className="card">
            <TriggerForm pipeline={data.name} defaults={data.params ?? {}} />
          </section>
        )}
        <section className="card" aria-labelledby="recent-title">
          <div className="card-head">
            <h2 id="recent-title">Recent runs</h2>
            <Link to={`/?pipeline=${encodeURIComponent(data.name)}`} className="small">
              All runs of {data.name}
            </Link>
          </div>
          {recent.length === 0 ? <Empty>No runs yet.</Empty> : <RunsTable runs={recent} showPipeline={false} caption={`Recent runs of ${data.name}`} />}
        </section>
      </div>
    </div>
  );
}
