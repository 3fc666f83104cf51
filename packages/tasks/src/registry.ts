import type { TaskFamily } from './family.js';
import { cddms } from './families/cddms.js';
import { dms } from './families/dms.js';
import { gng2 } from './families/gng2.js';
import { gng4 } from './families/gng4.js';
import { sma } from './families/sma.js';

/** Every family, in a fixed order. A new family is one file under families/ and one entry here. */
const FAMILIES = [sma, dms, cddms, gng2, gng4] as const;

export type FamilyId = (typeof FAMILIES)[number]['id'];

export const FAMILY_IDS: readonly FamilyId[] = Object.freeze(FAMILIES.map((f) => f.id));

const BY_ID: ReadonlyMap<string, TaskFamily> = new Map(FAMILIES.map((f) => [f.id, f]));

export function isFamilyId(id: string): id is FamilyId {
  return BY_ID.has(id);
}

/** The family with this id; throws listing the valid ids otherwise. */
export function getFamily(id: string): TaskFamily {
  const family = BY_ID.get(id);
  if (!family) throw new RangeError(`unknown task family '${id}'; valid: ${FAMILY_IDS.join(', ')}`);
  return family;
}

/** All families, in registry order. */
export function listFamilies(): readonly TaskFamily[] {
  return FAMILIES;
}
