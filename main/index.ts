// Entry point of the custodian node (placeholder until main/node exists).
import './polyfill.js';
import { API_VERSION } from '../shared/api/index.js';

export { API_VERSION };
