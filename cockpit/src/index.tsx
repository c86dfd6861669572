/** Entry point: mounts the page once Cockpit's library (a global from ../base1/cockpit.js) is there. */
import '@patternfly/react-core/dist/styles/base.css';
import './app.css';
import { createRoot } from 'react-dom/client';
import { App } from './app';

const root = document.getElementById('app');
if (root) {
  const cockpit = window.cockpit;
  if (!cockpit) root.textContent = 'This page runs inside Cockpit: ../base1/cockpit.js did not load.';
  else createRoot(root).render(<App cockpit={cockpit} />);
}
