// npm run demo: a gateway with a synthetic producer, so a newcomer sees live
// data at once. Extra arguments go to the gateway (e.g. -- --port 9000).
// Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connectPublisher } from '../dist/client/index.js';

const gateway = spawn(process.execPath, ['dist/cli.js', ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  createInterface({ input: gateway.stdout }).on('line', (line) => {
    try {
      const entry = JSON.parse(line);
      if (entry.msg === 'fanwire listening') resolve(entry.url);
    } catch {
      // not a log line
    }
  });
  gateway.once('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
}).catch((err) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});

console.log(`\n  fanwire demo: open ${url}/ in a browser (Ctrl-C to stop)\n`);
const publisher = await connectPublisher({ url });
const customers = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
let n = 0;
const timer = setInterval(() => {
  n++;
  const customer = customers[n % customers.length];
  const events = [{ topic: 'orders', type: n % 7 === 0 ? 'cancelled' : 'created', key: `o-${n}`, filterKeys: [customer], payload: { customer, total: Math.round(Math.random() * 50000) / 100 } }];
  if (n % 5 === 0) events.push({ topic: 'audit', type: 'login', key: customer, payload: { at: new Date().toISOString() } });
  publisher.publish(events).catch(() => {});
}, 200);

const stop = () => {
  clearInterval(timer);
  gateway.kill('SIGTERM');
  gateway.once('exit', () => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
