import { vi } from 'vitest';

/** For tests of the ip2 command run in-process: collects what it writes to stdout and stderr. */
export interface Captured {
  stdout: string;
  stderr: string;
}

/** Replaces process.stdout/stderr.write with collectors (undo with vi.restoreAllMocks()). */
export function captureOutput(): Captured {
  const c: Captured = { stdout: '', stderr: '' };
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    c.stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    c.stderr += String(s);
    return true;
  });
  return c;
}
