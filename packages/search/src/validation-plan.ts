import type { PropertyKey } from '@ip2/snn';
import { allCandidates, type Candidate } from './candidates.js';

/** What a validated mask stands for (one mask may stand for several: a control can be the runner-up). */
export type ValidationRole = 'chosen' | 'runner-up' | 'rsnn-noip' | 'ip-inner';

/** A mask the validation stage trains on fresh seeds. */
export interface ValidationTarget {
  readonly id: string;
  readonly keys: readonly PropertyKey[];
  readonly role: Candidate['role'];
  /** Why it is validated, in the order chosen, runner-up, rsnn-noip, ip-inner. */
  readonly as: readonly ValidationRole[];
}

/**
 * The masks the validation stage trains: the chosen one, the runner-up (the second of the last rung; none
 * when the search measured a single candidate), the empty mask (`rsnn-noip`) and the full mask
 * (`ip-inner`), each once, the chosen one first. The controls are validated whether or not the strategy
 * measured them (a random search may not have drawn them).
 */
export function validationTargets(
  space: readonly PropertyKey[],
  chosen: string,
  runnerUp: string | null,
): ValidationTarget[] {
  const all = allCandidates(space);
  const byId = new Map(all.map((c) => [c.id, c]));
  const noip = all.find((c) => c.role === 'rsnn-noip')!;
  const inner = all.find((c) => c.role === 'ip-inner')!;
  const wanted: [string, ValidationRole][] = [[chosen, 'chosen']];
  if (runnerUp !== null) wanted.push([runnerUp, 'runner-up']);
  wanted.push([noip.id, 'rsnn-noip'], [inner.id, 'ip-inner']);
  const out = new Map<string, ValidationRole[]>();
  for (const [id, role] of wanted) {
    if (!byId.has(id)) throw new RangeError(`validation: '${id}' is not a mask of [${space.join(', ')}]`);
    const roles = out.get(id) ?? [];
    // A control chosen or runner-up keeps its role names too (ip-inner chosen is 'chosen' and 'ip-inner').
    if (!roles.includes(role)) roles.push(role);
    out.set(id, roles);
  }
  return [...out.entries()].map(([id, as]) => {
    const c = byId.get(id)!;
    return { id, keys: c.keys, role: c.role, as };
  });
}

/**
 * The mask the chosen one is judged against: the runner-up; without one (a single candidate measured),
 * `rsnn-noip`, or `ip-inner` when the chosen mask is the empty one.
 */
export function validationComparator(targets: readonly ValidationTarget[]): ValidationTarget | null {
  const others = targets.filter((t) => !t.as.includes('chosen'));
  return (
    others.find((t) => t.as.includes('runner-up')) ??
    others.find((t) => t.as.includes('rsnn-noip')) ??
    others.find((t) => t.as.includes('ip-inner')) ??
    null
  );
}
