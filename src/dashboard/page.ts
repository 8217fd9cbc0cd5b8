/**
 * The dashboard page the gateway serves at `/`: a live view of the stream
 * through fanwire/client, plus the gateway's own numbers from /v1/stats.
 * Bundled with esbuild into one self-contained HTML file (no CDN, works
 * offline). `?gateway=ws://host:port` streams from another address (tests put
 * a proxy there); `?topic=T` starts with a topic filter; `?topics=a,b`
 * subscribes to those topics only (a token may not allow everything). Next
 * to the live list, a state table: the newest event per topic and key, from
 * the gateway's snapshot (snapshot=1) when the page joins or heals a gap,
 * then kept current by the stream.
 *
 * With auth on, the token comes from the URL fragment, `/#token=<jwt>`: a
 * fragment is never sent in a request line, so it never reaches a server or
 * proxy log. It is used for the subscription and, as a bearer token, for
 * /v1/stats, whose numbers are shown only when the token allows them
 * (`"ops": true`). When the gateway refuses the page, the page says why.
 */
import { subscribe, type Event, type FanwireClientError, type Gap } from '../client/index.js';

const MAX_ROWS = 200;
const params = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));
const token = fragment.get('token') ?? undefined;
const topics = (params.get('topics') ?? '')
  .split(',')
  .map((t) => t.trim())
  .filter((t) => t !== '');
const gateway = params.get('gateway') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const $ = (id: string) => document.getElementById(id)!;
const filterInput = $('filter') as HTMLInputElement;
filterInput.value = params.get('topic') ?? '';
$('source').textContent = gateway;

const rows: Array<{ index: number; event: Event }> = [];
/** The newest event per (topic, key): the snapshot, then every event after it. */
const state = new Map<string, { index: number; event: Event }>();
const MAX_STATE_ROWS = 500;
const stateKey = (event: Event) => JSON.stringify([event.topic, event.key]);
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

function renderState(): void {
  const wanted = filterInput.value.trim();
  const entries = [...state.values()]
    .filter((e) => wanted === '' || e.event.topic === wanted)
    .sort((a, b) => (a.event.topic === b.event.topic ? (a.event.key < b.event.key ? -1 : a.event.key > b.event.key ? 1 : 0) : a.event.topic < b.event.topic ? -1 : 1))
    .slice(0, MAX_STATE_ROWS);
  $('state-table').replaceChildren(
    ...entries.map(({ index, event }) => {
      const tr = document.createElement('tr');
      tr.dataset.topic = event.topic;
      tr.dataset.key = event.key;
      for (const text of [event.topic, event.key, String(index), JSON.stringify(event.payload)]) {
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

/** What a refusal means for someone looking at this page, and what to do. */
function explain(error: FanwireClientError): string {
  switch (error.code) {
    case 'unauthorized':
      if (token === undefined) return 'The gateway has auth on and this page has no token. Open it as /#token=<jwt>.';
      if (/expired/.test(error.message)) return 'The token in this page\'s URL has expired. Open it again with a fresh one: /#token=<jwt>.';
      return `The gateway refused the token in this page's URL (${error.message}). Open it with a valid one: /#token=<jwt>.`;
    case 'forbidden':
      if (topics.length === 0) {
        return 'The token does not allow reading every topic. Open the page with ?topics=a,b naming topics it allows, or with a token whose "topics" claim is "*".';
      }
      return `The token does not allow reading ${topics.join(', ')} (${error.message}). Use a token whose "topics" claim covers them.`;
    default:
      return `The gateway refused this page: ${error.code}: ${error.message}.`;
  }
}

const subscription = subscribe({
  url: gateway,
  format: 'json',
  topics,
  token,
  onError: (error) => {
    const panel = $('error');
    panel.dataset.code = error.code;
    panel.textContent = explain(error);
    panel.hidden = false;
  },
  // Served by the gateway it talks to, so it always understands batch messages: a busy stream costs the page fewer message events.
  batch: true,
  snapshot: true,
  onSnapshot: (events) => {
    // The whole state as of the snapshot point: what the table showed before is replaced, not patched.
    state.clear();
    for (const { index, ...event } of events) state.set(stateKey(event), { index, event });
    renderState();
  },
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
    for (const event of message.events) {
      rows.push({ index: message.index, event });
      state.set(stateKey(event), { index: message.index, event });
    }
    renderState();
    if (rows.length > MAX_ROWS * 5) rows.splice(0, rows.length - MAX_ROWS * 5);
    received += message.events.length;
    $('index').textContent = String(message.index);
    $('epoch').textContent = subscription.epoch ?? '-';
    render();
  },
});
$('epoch').textContent = subscription.epoch ?? '-';
filterInput.addEventListener('input', () => {
  render();
  renderState();
});

setInterval(() => {
  $('rate').textContent = String(received);
  received = 0;
}, 1000);

async function pollStats(): Promise<void> {
  try {
    const response = await fetch('/v1/stats', token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
    // With auth on, only an "ops" token may see the gateway's numbers: hide them rather than show dashes.
    const allowed = response.status !== 401 && response.status !== 403;
    $('stats').hidden = !allowed;
    $('stats-note').hidden = allowed;
    if (!response.ok) return;
    const stats = await response.json();
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

// A new token in the fragment (pasted into the address bar) does not reload the page by itself.
window.addEventListener('hashchange', () => location.reload());

(window as unknown as { fanwire: unknown }).fanwire = { subscription };
