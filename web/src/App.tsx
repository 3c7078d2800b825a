import { lazy, Suspense, useEffect } from 'react';
import { BrowserRouter, Link, NavLink, Route, Routes, useMatch } from 'react-router';
import { startGlobalEvents } from './api/globalEvents';
import { ConnectionIndicator } from './components/ConnectionIndicator';
import { Loading } from './components/Feedback';
import { RunDetailPage } from './pages/RunDetailPage';
import { RunsPage } from './pages/RunsPage';

// the runs list and a run's page are where people land; the other pages load on first visit
const ArtifactDetailPage = lazy(() => import('./pages/ArtifactDetailPage').then((m) => ({ default: m.ArtifactDetailPage })));
const ArtifactsPage = lazy(() => import('./pages/ArtifactsPage').then((m) => ({ default: m.ArtifactsPage })));
const PipelineDetailPage = lazy(() => import('./pages/PipelineDetailPage').then((m) => ({ default: m.PipelineDetailPage })));
const PipelinesPage = lazy(() => import('./pages/PipelinesPage').then((m) => ({ default: m.PipelinesPage })));

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to runs</Link>
      </p>
    </section>
  );
}

/** "Runs" stays highlighted on a run's page too. */
function RunsNavLink() {
  const onRun = useMatch('/runs/*') !== null;
  return (
    <NavLink to="/" end className={({ isActive }) => (isActive || onRun ? 'active' : '')}>
      Runs
    </NavLink>
  );
}

export function App({ basename }: { basename: string }) {
  useEffect(() => startGlobalEvents(), []);
  return (
    <BrowserRouter basename={basename}>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="flowyml home">
          <svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">
            <circle cx="5" cy="12" r="3" fill="#2563eb" />
            <circle cx="19" cy="6" r="3" fill="#14b8a6" />
            <circle cx="19" cy="18" r="3" fill="#22c55e" />
            <path d="M8 11l8-4M8 13l8 4" stroke="#64748b" strokeWidth="1.6" fill="none" />
          </svg>
          flowyml
        </Link>
        <nav aria-label="Main">
          <ul className="nav">
            <li>
              <RunsNavLink />
            </li>
            <li>
              <NavLink to="/pipelines">Pipelines</NavLink>
            </li>
            <li>
              <NavLink to="/artifacts">Artifacts</NavLink>
            </li>
          </ul>
        </nav>
        <ConnectionIndicator />
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading what="page" />}>
          <Routes>
          <Route path="/" element={<RunsPage />} />
          <Route path="/runs/:runId" element={<RunDetailPage />} />
          <Route path="/pipelines" element={<PipelinesPage />} />
          <Route path="/pipelines/:name" element={<PipelineDetailPage />} />
          <Route path="/artifacts" element={<ArtifactsPage />} />
          <Route path="/artifacts/:artifactId" element={<ArtifactDetailPage />} />
          <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </main>
    </BrowserRouter>
  );
}
