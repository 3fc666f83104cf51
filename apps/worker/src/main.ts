#!/usr/bin/env node
/*
 * The worker's entry point. Its one static import catches SIGTERM and SIGINT from here on
 * (@ip2/contracts/early-signal); everything else loads after it, with a dynamic import, so that a stop
 * signal while the process loads its modules (a second or two) starts its shutdown as soon as it can,
 * instead of the signal's default action ending it at once. A static import of the rest would load and
 * link all of it before the first module runs.
 */
import '@ip2/contracts/early-signal';

await import('./serve.js');
