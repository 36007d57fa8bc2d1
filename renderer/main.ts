// Entry point of the UI: finds the node (Electron's preload, else browser mode) and mounts the app.
import { mount } from 'svelte';
import App from './components/App.svelte';
import { ipcClient } from '../shared/api/ipc-client.js';
import { browserBridge, isPreloadBridge } from './lib/bridge.js';
import { AppState } from './state/app.svelte.js';
import './styles.css';

const preload: unknown = Reflect.get(window, 'conclave');
const bridge = isPreloadBridge(preload) ? ipcClient(preload) : browserBridge(window.location);
const app = new AppState(bridge, { storage: window.localStorage, root: document.documentElement });
mount(App, { target: document.getElementById('app')!, props: { app } });
