#!/usr/bin/env node
// The `ip2` command. A committed file, so that npm links it when it installs the workspace, before
// `npm run build` has made dist/main.js.
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then((code) => process.exit(code));
