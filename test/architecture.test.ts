import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');

describe('docs/architecture.md', () => {
  it('names only source files that exist', () => {
    const named = [...doc.matchAll(/`((?:[a-z-]+\/)?[a-z-]+\.ts)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(20);
    const missing = named.filter((file) => !existsSync(join(root, 'src', file)));
    expect(missing).toEqual([]);
  });

  it('places every folder of src/ in the layer map', () => {
    const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    const map = doc.slice(doc.indexOf('## Layers'), doc.indexOf('## One event'));
    expect(folders.filter((f) => !map.includes(`${f}/`))).toEqual([]);
  });

  it('keeps the promise that every src file says what it owns: each starts with a header comment', () => {
    const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const bare = files.filter((f) => !/^(#![^\n]*\n)?\/\*\*/.test(readFileSync(join(root, 'src', f), 'utf8')));
    expect(bare).toEqual([]);
  });
});
