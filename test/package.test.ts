/**
 * What an operator installing the package gets: a license that says what
 * package.json says, and a Node range that is in support.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { license: string; engines: { node: string }; files: string[] };

describe('package', () => {
  it('ships a LICENSE file with the license package.json names', () => {
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE').split('\n')[0]).toBe('MIT License');
    expect(pkg.files).toContain('LICENSE');
  });

  it('asks for a Node LTS line in support (22 or later; 20 reached its end of life in April 2026)', () => {
    expect(pkg.engines.node).toBe('>=22');
  });
});
