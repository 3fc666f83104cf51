/*
 * Preloaded (`--import`) into every sandboxed job process, before BullMQ's child code and the processor
 * load: from its first moment, such a process ends when its worker process is gone (see child.ts).
 */
import { exitWithParent } from './child.js';

exitWithParent();
