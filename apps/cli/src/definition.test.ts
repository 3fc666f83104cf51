import { SEARCH_EXAMPLE } from '@ip2/contracts/http';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addDefinitionOptions, definitionFromFlags, type DefinitionFlags } from './definition.js';

describe('the search definition of the flags', () => {
  it("is the API's example body for `--family sma` with every other default (the quick preset)", () => {
    const cmd = addDefinitionOptions(new Command('submit')).exitOverride();
    cmd.parse(['--family', 'sma'], { from: 'user' });
    expect(definitionFromFlags(cmd.opts<DefinitionFlags>())).toEqual(SEARCH_EXAMPLE);
  });
});
