import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  /** A new total (the validation's cost is known once the decision is made). */
  setTotal(total: number): void;
  log(line: string): void;
  stop(): void;
}

/**
 * A progress bar on a terminal (stderr); on anything else (CI, pipes, files) one line per
 * `log` call instead of redraws.
 */
export function progressBar(total: number, format: string, quiet = false): Progress {
  const tty = process.stderr.isTTY === true && !quiet;
  if (!tty) {
    return {
      update: () => {},
      setTotal: () => {},
      log: (line) => {
        if (!quiet) process.stderr.write(line + '\n');
      },
      stop: () => {},
    };
  }
  const multi = new cliProgress.MultiBar(
    { format, stream: process.stderr, hideCursor: true, etaBuffer: 20, fps: 5, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(total, 0, {});
  return {
    update: (value, payload) => bar.update(value, payload ?? {}),
    setTotal: (n) => bar.setTotal(n),
    log: (line) => multi.log(line + '\n'),
    stop: () => multi.stop(),
  };
}
