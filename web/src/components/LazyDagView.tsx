import { lazy, Suspense, useState, type ComponentProps, type ComponentType } from 'react';
import type { DagView as DagViewType } from './DagView';

// The DAG view and its libraries (@xyflow/react, dagre) are a chunk of their own, loaded the
// first time a page shows a DAG: the runs list, the first page most people open, does not
// wait for them.
type Props = ComponentProps<typeof DagViewType>;
let loaded: ComponentType<Props> | null = null;
let loading: Promise<ComponentType<Props>> | null = null;

function load(): Promise<ComponentType<Props>> {
  loading ??= import('./DagView').then((m) => {
    loaded = m.DagView;
    return m.DagView;
  });
  return loading;
}

const DagViewChunk = lazy(() => load().then((c) => ({ default: c })));

/**
 * Start fetching the DAG chunk now (a run page calls this before its data arrives, so
 * the two downloads overlap); resolves once it is loaded.
 */
export function preloadDagView(): Promise<unknown> {
  return load();
}

export function DagView(props: Props) {
  // once loaded, render it directly: going through `lazy` would suspend once more, and a
  // suspended render of a 10,000-step DAG (its layout included) is thrown away and redone
  // (decided once per mount: switching would remount the graph)
  const [Loaded] = useState(() => loaded);
  if (Loaded) return <Loaded {...props} />;
  return (
    <Suspense fallback={<div className="dag-loading" aria-busy="true">Loading the DAG…</div>}>
      <DagViewChunk {...props} />
    </Suspense>
  );
}
