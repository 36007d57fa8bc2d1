// Entry point of the UI (placeholder until the Svelte app exists).
import { API_VERSION } from '../shared/api/index.js';

export { API_VERSION };
