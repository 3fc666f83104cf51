/*
 * The controller process, loaded by main.ts once the stop signals are caught (see there).
 */
import { takeStopSignals } from '@ip2/contracts/early-signal';
import { startController } from './controller.js';
import { configOrExit, exitOnSignal } from '@ip2/contracts';
import { parseControllerEnv } from './env.js';

const log = (m: string) => process.stderr.write(`ip2-controller: ${m}\n`);

const config = configOrExit(log, () => parseControllerEnv(process.env));

const running = await startController(config, log);
log(`ready: tick ${config.tickMs} ms, stale after ${config.staleMs} ms, prefix ${config.queuePrefix}`);

exitOnSignal(log, (step) => running.close(step), { deadlineMs: config.shutdownMs, signals: takeStopSignals });
