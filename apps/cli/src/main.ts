#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { MODELS } from '@ip2/l2l';
import { ENGINE_NAMES } from '@ip2/snn';
import {
  addDefinitionOptions,
  addModelOptions,
  familiesHelp as families,
  presetsHelp as presets,
  propertiesHelp as properties,
} from './definition.js';
import { UsageError } from './errors.js';
import { PRESET_NAMES } from './presets.js';
import { runL2l, type L2lFlags } from './commands/l2l.js';
import { runReport, type ReportFlags } from './commands/report.js';
import { runSearch, type SearchFlags } from './commands/search.js';
import { runSubmit, type SubmitFlags } from './commands/submit.js';
import { runWatch, type WatchFlags } from './commands/watch.js';
import { DEFAULT_SERVER } from './server/client.js';

const models = () => MODELS.map((m) => `  ${m.name.padEnd(10)} ${m.description}`).join('\n');

const SERVER_HELP =
  '\nServer: --server, else $IP2_SERVER, else ' +
  DEFAULT_SERVER +
  '; key: --key, else $IP2_API_KEY (keys are made\n' +
  'with ip2-api-keys on the server). Exit codes: 0 done; 2 a refused request (bad flag, unknown or revoked key,\n' +
  'unknown search: one line naming the flag or quoting the server); 1 the server failed or cannot be reached.';

export function buildProgram(): Command {
  const program = new Command('ip2')
    .description(
      'Meta-learning for recurrent spiking networks with bi-level intrinsic plasticity (IP²-RSNN):\n' +
        'which intrinsic properties of the neurons should be learnable so that a network learns each\n' +
        'new task of a family faster than the last?',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  const l2l = program
    .command('l2l')
    .description(
      'train one network on a sequence of tasks of a family (learning-to-learn) and plot its adaptation curve',
    )
    .addOption(new Option('--family <id>', 'task family').default('sma'))
    .addOption(new Option('--model <name>', 'model: ip2 or a baseline').default('ip2'))
    .option('--mask <keys>', 'learnable intrinsic properties for ip2, comma-separated (default: the whole space)')
    .option('--space <keys>', 'search space, comma-separated property keys (default: tauD,tauS,theta)')
    .addOption(new Option('--preset <name>', 'network size and protocol').choices(PRESET_NAMES).default('quick'))
    .option('--tasks <n>', 'tasks in the sequence (default: from the preset)')
    .option('--seed <n>', 'run seed: task instances, trials and initialisation derive from it', '1')
    .option('--hidden <n>', 'hidden units / neurons (default: from the preset)')
    .option('--params <n>', 'baselines: the hidden size whose parameter count is nearest n (instead of --hidden)')
    .option('--cap <n>', 'iteration cap per task; reaching it is a failure (default: from the preset)')
    .option('--window <n>', 'convergence window in iterations (default: from the preset)')
    .option('--epsilon <x>', 'convergence threshold on the mean task loss over the window (default: from the preset)')
    .option('--batch <n>', "trials per training iteration (default: the family's number of conditions)")
    .option('--lr <x>', 'learning rate of the weights (default: from the preset)')
    .option('--loss <kind>', 'task loss: mse or xent', 'mse');
  addModelOptions(l2l)
    .option(
      '--engine <name>',
      `training engine: ${ENGINE_NAMES.join(', ')} (default: the fastest that covers the model)`,
    )
    .option('--snapshots', 'record every neuron’s intrinsic values after every task')
    .option('--out <dir>', 'output folder', 'results/l2l')
    .option('--quiet', 'no progress display')
    .option(
      '--fixed <file>',
      'train with a fixed configuration (fixed-config.json of a search): family, mask and protocol from it',
    )
    .option(
      '--config <file.json>',
      'a search definition (the file of ip2 search --config): family, space and protocol from it; typed flags override them',
    )
    .addHelpText(
      'after',
      `\nFamilies:\n${families()}\n\nModels:\n${models()}\n\nProperty keys:\n${properties()}\n\nPresets:\n${presets()}\n\n` +
        'Writes results.json, tasks.csv (one row per task), timings.csv and curve.svg into --out.\n' +
        'Example: ip2 l2l --family dms --model ip2 --mask tauD,theta --tasks 50 --seed 1 --out results/',
    )
    .action(async (flags: L2lFlags, cmd: Command) => runL2l(flags, (name) => cmd.getOptionValueSource(name) === 'cli'));

  addDefinitionOptions(
    program
      .command('search')
      .description(
        'meta-IP search on this machine (no Redis, no PostgreSQL): which intrinsic properties should be learnable for a family',
      ),
  )
    .option('--workers <n>', 'worker threads (default: one per core)')
    .option(
      '--population <n>',
      'runs each worker thread trains together in lock-step, same results (default: 4; 1: one at a time)',
    )
    .option('--engine <name>', `training engine: ${ENGINE_NAMES.join(', ')}`)
    .option('--out <dir>', 'output folder (holds the search: results, checkpoints, report)', 'results/search')
    .option('--resume', 'continue the search stored in --out after an interruption')
    .option('--quiet', 'no progress display')
    .option(
      '--analysis-seeds <n>',
      "runs of the chosen configuration trained again for the report's analyses (intrinsic distributions, lesions, modularity); 0: none",
      '2',
    )
    .addHelpText(
      'after',
      `\nFamilies:\n${families()}\n\nProperty keys:\n${properties()}\n\nPresets:\n${presets()}\n\n` +
        'Writes into --out: search.json (definition), results.jsonl and checkpoints/ (the live store, used by --resume),\n' +
        'tasks.csv and tasks.json (every task result, sorted), timings.csv, fixed-config.json, analysis.json and report.html.\n' +
        'Ctrl-C stops at once keeping every finished task; run the same command with --resume to continue.\n' +
        'Example: ip2 search --family dms --space tauD,tauS,theta --strategy successive-halving --seeds 3 --tasks 40',
    )
    .action(async (flags: SearchFlags) => {
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const code = await runSearch(flags, ac.signal);
        if (code !== 0) throw new ExitCode(code);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });

  const serverOptions = (cmd: Command) =>
    cmd
      .option('--server <url>', `the ip2 API (default: $IP2_SERVER, else ${DEFAULT_SERVER})`)
      .option('--key <key>', 'API key (default: $IP2_API_KEY)');
  const stoppable = async (run: (signal: AbortSignal) => Promise<number>) => {
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    process.once('SIGINT', onSigint);
    try {
      const code = await run(ac.signal);
      if (code !== 0) throw new ExitCode(code);
    } finally {
      process.off('SIGINT', onSigint);
    }
  };

  serverOptions(
    addDefinitionOptions(
      program
        .command('submit')
        .description(
          'submit a meta-IP search to a server (same flags and definition as ip2 search); prints its id and links',
        ),
    ),
  )
    .option('--idempotency-key <key>', 'a retried submission with the same key returns the same search (default: none)')
    .option('--watch', 'follow the search to its decision, as ip2 watch does (default: off)')
    .option('--retries <n>', 'with --watch: reconnections in a row, one a second, before giving up (default 30)')
    .option('--quiet', 'with --watch: no progress display (default: off)')
    .addHelpText(
      'after',
      `\nFamilies:\n${families()}\n\nProperty keys:\n${properties()}\n\nPresets:\n${presets()}\n${SERVER_HELP}\n\n` +
        'Example: IP2_SERVER=http://127.0.0.1:3000 IP2_API_KEY=ip2_... ip2 submit --family dms --seeds 3 --tasks 40 --watch',
    )
    .action(async (flags: SubmitFlags) => stoppable((signal) => runSubmit(flags, signal)));

  serverOptions(
    program
      .command('watch')
      .argument('<id>', 'search id (as ip2 submit prints it)')
      .description(
        'follow a search on a server: a progress bar from its event stream (reconnecting with Last-Event-ID), then its decision',
      ),
  )
    .option('--retries <n>', 'reconnections in a row, one a second, before giving up (default 30)')
    .option('--quiet', 'no progress display (default: off)')
    .addHelpText(
      'after',
      `${SERVER_HELP}\nA search that ends FAILED or CANCELLED exits 1; Ctrl-C stops watching (the search goes on).\n\n` +
        'Example: ip2 watch 0b0e5b4e-2a43-4d3c-9a53-3f1f7a0c2f00 --server http://127.0.0.1:3000',
    )
    .action(async (id: string, flags: WatchFlags) => stoppable((signal) => runWatch(id, flags, signal)));

  serverOptions(
    program
      .command('report')
      .argument('<id>', 'search id (as ip2 submit prints it)')
      .description("download a finished search's report and results from a server: the files ip2 search writes"),
  )
    .option('--out <dir>', 'output folder (default: results/<id>)')
    .addHelpText(
      'after',
      `${SERVER_HELP}\nWrites into --out: report.html, tasks.json, tasks.csv, fixed-config.json, importance.svg and\n` +
        'validation.svg where the search has them, and analysis.json once the analyses of the chosen configuration\n' +
        'are stored (nothing unless every download succeeded). A search that is not COMPLETE has no report yet (exit 2).\n\n' +
        'Example: ip2 report 0b0e5b4e-2a43-4d3c-9a53-3f1f7a0c2f00 --out results/dms',
    )
    .action(async (id: string, flags: ReportFlags) => {
      const code = await runReport(id, flags);
      if (code !== 0) throw new ExitCode(code);
    });

  return program;
}

class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help')
        return 0;
      return 2;
    }
    if (e instanceof ExitCode) return e.code;
    if (e instanceof UsageError) {
      process.stderr.write(`ip2: ${e.message}\n`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`ip2: error: ${msg}\n`);
    if (process.env.IP2_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

// Run as `node apps/cli/dist/main.js`; the installed `ip2` command is bin/ip2.js, which calls main().
const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
