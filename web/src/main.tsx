import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { basenameFrom, initToken } from './api/client';
import './styles.css';

initToken();
const root = document.getElementById('root');
if (!root) throw new Error('flowyml dashboard: #root element missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App basename={basenameFrom(document.baseURI)} />
  </StrictMode>,
);
