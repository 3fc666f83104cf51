import { UUID, type FixedConfigView as FixedConfigWire } from '@ip2/contracts/http';
import type { FixedConfig } from '@ip2/search';

export type { SearchView } from '@ip2/contracts/http';

/**
 * A fixed configuration as the API sends it, its record read as @ip2/search's FixedConfig, and the model
 * version optional (servers that predate it send none: 1).
 */
export type FixedConfigView = Omit<FixedConfigWire, 'modelVersion' | 'record'> &
  Partial<Pick<FixedConfigWire, 'modelVersion'>> & { readonly record: FixedConfig };

export function isSearchId(id: string): boolean {
  return UUID.test(id);
}
