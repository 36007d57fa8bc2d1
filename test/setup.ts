// Vitest setup for every project: the same polyfills the app's entry points load.
import '../main/polyfill.js';
