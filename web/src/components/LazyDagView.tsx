import { lazy, Suspense, type ComponentProps } from 'react';

// The DAG view and its libraries (@xyflow/react, dagre) are a chunk of their own, loaded the
// first time a page shows a DAG: the runs list, the first page most people open, does not
// wait for them.
const load = () => import('./DagView');
const DagViewChunk = lazy(() => load().then((m) => ({ default: m.DagView })));

/**
 * Start fetching the DAG chunk now (a run page calls this before its data arrives, so
 * the two downloads overlap); resolves once it is loaded.
 */
export function preloadDagView(): Promise<unknown> {
  return load();
}

export function DagView(props: ComponentProps<typeof DagViewChunk>) {
  return (
    <Suspense fallback={<div className="dag-loading" aria-busy="true">Loading the DAG…</div>}>
      <DagViewChunk {...props} />
    </Suspense>
  );
}
