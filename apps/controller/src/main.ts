#!/usr/bin/env node
import { startController } from './controller.js';
import { configOrExit } from '@ip2/contracts';
import { parseControllerEnv } from './env.js';

const log = (m: string) => process.stderr.write(`ip2-controller: ${m}\n`);

const config = configOrExit(log, () => parseControllerEnv(process.env));

const running = await startController(config, log);
log(`ready: tick ${config.tickMs} ms, stale after ${config.staleMs} ms, prefix ${config.queuePrefix}`);

let closing = false;
const shutdown = (signal: string) => {
  if (closing) return;
  closing = true;
  log(`${signal}: closing`);
  running.close().then(
    () => process.exit(0),
    (e: unknown) => {
      log(`close failed: ${String(e)}`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
