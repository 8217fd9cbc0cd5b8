/**
 * The dashboard page the gateway serves at `/`: a live view of the stream
 * through fanwire/client, plus the gateway's own numbers from /v1/stats.
 * Bundled with esbuild into one self-contained HTML file (no CDN, works
 * offline). `?gateway=ws://host:port` streams from another address (tests put
 * a proxy there); `?topic=T` starts with a topic filter.
 */
import { subscribe, type Gap, type Event } from '../client/index.js';

const MAX_ROWS = 200;
const params = new URLSearchParams(location.search);
const gateway = params.get('gateway') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const $ = (id: string) => document.getElementById(id)!;
const filterInput = $('filter') as HTMLInputElement;
filterInput.value = params.get('topic') ?? '';
$('source').textContent = gateway;

const rows: Array<{ index: number; event: Event }> = [];
let received = 0;

function render(): void {
  const wanted = filterInput.value.trim();
  const body = $('events');
  const visible = wanted === '' ? rows : rows.filter((r) => r.event.topic === wanted);
  body.replaceChildren(
    ...visible
      .slice(-MAX_ROWS)
      .reverse()
      .map(({ index, event }) => {
        const tr = document.createElement('tr');
        tr.dataset.index = String(index);
        for (const text of [String(index), event.topic, event.type, event.key, JSON.stringify(event.payload)]) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        tr.lastElementChild!.className = 'payload';
        return tr;
      }),
  );
}

function notice(text: string): void {
  const div = document.createElement('div');
  div.className = 'notice';
  div.textContent = `${new Date().toLocaleTimeString()}: ${text}`;
  $('notices').prepend(div);
  while ($('notices').children.length > 5) $('notices').lastElementChild!.remove();
}

function describeGap(gap: Gap): string {
  if (gap.cause === 'epoch') {
    return `gateway restarted (new epoch ${gap.epoch}): events from index ${gap.requestedIndex} of the old epoch are gone; following the new stream from ${gap.resumedAt}`;
  }
  if (gap.cause === 'skipped') return `events ${gap.requestedIndex}..${gap.resumedAt - 1} were skipped (${gap.reason}) because this page fell behind`;
  return `events ${gap.requestedIndex}..${gap.resumedAt - 1} were evicted before this page could read them`;
}

const subscription = subscribe({
  url: gateway,
  format: 'json',
  // Served by the gateway it talks to, so it always understands batch messages: a busy stream costs the page fewer message events.
  batch: true,
  onState: (state, reason) => {
    const badge = $('state');
    badge.textContent = state;
    badge.className = `badge ${state}`;
    badge.title = reason;
    if (state === 'live') $('epoch').textContent = subscription.epoch ?? '-';
    if (reason === 'dropped') notice('the gateway dropped this page for falling behind; resuming');
  },
  onGap: (gap) => notice(describeGap(gap)),
  onEvents: (message) => {
    for (const event of message.events) rows.push({ index: message.index, event });
    if (rows.length > MAX_ROWS * 5) rows.splice(0, rows.length - MAX_ROWS * 5);
    received += message.events.length;
    $('index').textContent = String(message.index);
    $('epoch').textContent = subscription.epoch ?? '-';
    render();
  },
});
$('epoch').textContent = subscription.epoch ?? '-';
filterInput.addEventListener('input', render);

setInterval(() => {
  $('rate').textContent = String(received);
  received = 0;
}, 1000);

async function pollStats(): Promise<void> {
  try {
    const stats = await (await fetch('/v1/stats')).json();
    $('subscribers').textContent = String(stats.subscribers);
    $('drops').textContent = `${stats.totals.dropped.lagged} / ${stats.totals.dropped.backpressure}`;
    $('lag').textContent = String(stats.lagMax ?? 0);
    $('buffer').textContent = `${stats.buffer.oldestIndex}..${stats.buffer.newestIndex}`;
    $('epoch').textContent = subscription.epoch ?? stats.epoch;
  } catch {
    // The gateway may be restarting; the next poll will tell.
  }
}
void pollStats();
setInterval(() => void pollStats(), 1000);

(window as unknown as { fanwire: unknown }).fanwire = { subscription };
