// Bundles src/dashboard/page.ts (and fanwire/client, msgpackr) with esbuild
// into one self-contained dist/dashboard/index.html: no CDN, works offline.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const result = await build({
  entryPoints: [path.join(root, 'src/dashboard/page.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  write: false,
  // The client falls back to the ws package only where there is no global WebSocket.
  external: ['ws'],
  legalComments: 'none',
});
const script = result.outputFiles[0].text.replaceAll('</script', '<\\/script');
const template = readFileSync(path.join(root, 'src/dashboard/template.html'), 'utf8');
const html = template.replace('<script>/*__BUNDLE__*/</script>', () => `<script type="module">${script}</script>`);
mkdirSync(path.join(root, 'dist/dashboard'), { recursive: true });
writeFileSync(path.join(root, 'dist/dashboard/index.html'), html);
console.log(`dashboard: dist/dashboard/index.html (${Math.round(html.length / 1024)} KiB)`);
