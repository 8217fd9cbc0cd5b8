import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/buffer/index.js';
import { errors, isFanwireError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { FilterRegistry, FrameCache } from '../../src/fanout/index.js';
import {
  CloseCode,
  decodeFrame,
  encodeJson,
  ERROR_TABLE,
  parsePublishFrame,
  parseSubscribeQuery,
} from '../../src/protocol/index.js';
import type { Event } from '../../src/protocol/index.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const lines = doc.split(/\r?\n/);

/** The body rows of the first table under the `## heading` section, as trimmed cells. */
function tableUnder(heading: string): string[][] {
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start === -1) throw new Error(`docs/protocol.md has no "## ${heading}" section`);
  let i = start + 1;
  while (i < lines.length && !lines[i]!.trim().startsWith('|')) {
    if (lines[i]!.startsWith('## ')) throw new Error(`"## ${heading}" has no table`);
    i++;
  }
  const rows: string[][] = [];
  for (; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
    rows.push(
      lines[i]!
        .trim()
        .replace(/^\|/, '')
        .replace(/\|$/, '')
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  // rows[0] is the header, rows[1] the |---| separator.
  expect(rows[1]!.every((cell) => /^:?-+:?$/.test(cell))).toBe(true);
  return rows.slice(2);
}

const unquote = (cell: string): string => cell.replace(/^`(.*)`$/, '$1');

/** Error code -> its row of the "Error codes" table (code, HTTP, WebSocket, when). */
function documentedErrors(): Map<string, string[]> {
  const rows = tableUnder('Error codes');
  const byCode = new Map<string, string[]>();
  for (const row of rows) {
    const code = unquote(row[0]!);
    expect(byCode.has(code), `"${code}" is documented twice`).toBe(false);
    byCode.set(code, row);
  }
  return byCode;
}

function documentedCloseCodes(): Map<number, string[]> {
  const byCode = new Map<number, string[]>();
  for (const row of tableUnder('Close codes')) {
    expect(row[0], 'a close code cell').toMatch(/^\d{4}$/);
    byCode.set(Number(row[0]), row);
  }
  return byCode;
}

const tableCodes = Object.keys(ERROR_TABLE) as ErrorCode[];

describe('docs/protocol.md', () => {
  describe('Error codes table', () => {
    it('documents every error code with the HTTP status it is answered with, or "-"', () => {
      const documented = documentedErrors();
      for (const code of tableCodes) {
        const row = documented.get(code);
        expect(row, `error code "${code}" is missing from the doc`).toBeDefined();
        const http = ERROR_TABLE[code].http;
        expect(row![1], `HTTP status of "${code}"`).toBe(http === null ? '-' : String(http));
      }
    });

    it('documents a close code exactly for the errors answered by closing the connection', () => {
      const documented = documentedErrors();
      for (const code of tableCodes) {
        const webSocket = documented.get(code)![2]!;
        const { close, refusal } = ERROR_TABLE[code];
        if (refusal !== undefined) expect(webSocket, `WebSocket answer of "${code}"`).toContain(`(with \`fanwire.v1\`: close ${refusal}`);
        else if (close === null) expect(webSocket, `WebSocket answer of "${code}"`).not.toMatch(/close/);
        else expect(webSocket, `WebSocket answer of "${code}"`).toMatch(new RegExp(`(^|; open connections )close ${close}$`));
      }
    });

    it('documents no error code the gateway does not have', () => {
      for (const code of documentedErrors().keys()) {
        expect(tableCodes, `documented code "${code}"`).toContain(code);
      }
      expect(documentedErrors().size).toBe(tableCodes.length);
    });
  });

  describe('Close codes table', () => {
    it('documents every close code the gateway sends', () => {
      const documented = documentedCloseCodes();
      for (const [name, value] of Object.entries(CloseCode)) {
        expect(documented.has(value), `CloseCode.${name} (${value}) is missing from the doc`).toBe(true);
      }
    });

    it('documents no close code the gateway does not send', () => {
      const sent = new Set<number>(Object.values(CloseCode));
      for (const code of documentedCloseCodes().keys()) {
        expect(sent.has(code), `documented close code ${code}`).toBe(true);
      }
    });

    it('documents every close code an error code is answered with', () => {
      const documented = documentedCloseCodes();
      for (const code of tableCodes) {
        for (const close of [ERROR_TABLE[code].close, ERROR_TABLE[code].refusal ?? null]) {
          if (close !== null) expect(documented.has(close), `close code of "${code}"`).toBe(true);
        }
      }
    });
  });

  describe('Example session', () => {
    const session = (() => {
      const start = lines.findIndex((line) => line.trim() === '## Example session (json)');
      const out: string[] = [];
      for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('## '); i++) out.push(lines[i]!);
      return out;
    })();
    const sent = session.filter((line) => line.startsWith('> {')).map((line) => line.slice(2));
    const received = session.filter((line) => line.startsWith('< {')).map((line) => line.slice(2));

    it('answers the producer frames of the example as shown', () => {
      expect(sent).toHaveLength(3);
      const answers = sent.map((text) => {
        try {
          return { ok: parsePublishFrame(decodeFrame(Buffer.from(text), false)) };
        } catch (err) {
          if (!isFanwireError(err)) throw err;
          return { error: { code: err.code, message: err.message } };
        }
      });
      expect('ok' in answers[0]!).toBe(true);
      expect(answers[1]).toMatchObject({ ok: { id: 'b1' } });
      const shownError = JSON.parse(received[2]!) as { type: string; code: string; message: string };
      expect(shownError.type).toBe('error');
      expect(answers[2]).toEqual({ error: { code: shownError.code, message: shownError.message } });
    });

    it('delivers to the example subscriber byte for byte what the example shows', () => {
      const queryLine = session.find((line) => line.startsWith('> GET /v1/subscribe?'))!;
      const query = parseSubscribeQuery(new URLSearchParams(/\?(\S+)/.exec(queryLine)![1]));
      expect(query).toMatchObject({ index: 1, format: 'json' });

      const buffer = new EventBuffer<Event>({ maxSize: 10 });
      const items = sent.slice(0, 2).map((text) => buffer.append(parsePublishFrame(JSON.parse(text)).events));
      const filter = new FilterRegistry().acquire(query.topics);
      const cache = new FrameCache<Event>([(index, events) => encodeJson({ type: 'events', index, events })]);

      expect(cache.get(items[0]!, filter, 0)).toBeNull();
      const shownEvents = received.find((line) => line.includes('"type":"events"'))!;
      expect(Buffer.from(cache.get(items[1]!, filter, 0) as Uint8Array).toString('utf8')).toBe(shownEvents);
    });
  });
});

describe('errors', () => {
  const classes = Object.values(errors);

  it('gives every exported error class a code present in the error table', () => {
    expect(classes.length).toBeGreaterThan(0);
    for (const cls of classes) {
      expect(tableCodes, `${cls.name}.code`).toContain(cls.code);
    }
  });

  it('has exactly one exported error class for every code in the error table', () => {
    const codes = classes.map((cls) => cls.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual([...tableCodes].sort());
  });

  it('makes instances carry their class code and be recognised by isFanwireError', () => {
    const instances = [
      new errors.DroppedError('lagged', 3),
      new errors.IndexGoneError('gone', 5, 'e1'),
      new errors.BadQueryError('x'),
      new errors.DecodeFailedError('x'),
      new errors.InvalidFrameError('x'),
      new errors.TooBigError('x'),
      new errors.UnsupportedMediaTypeError('x'),
      new errors.ShuttingDownError(),
      new errors.NotFoundError('x'),
      new errors.MethodNotAllowedError('x'),
      new errors.UpgradeRequiredError('x'),
      new errors.BadHandshakeError('x'),
      new errors.UnauthorizedError('x'),
      new errors.ForbiddenError('x'),
      new errors.TokenExpiredError(),
      new errors.LimitExceededError('max-subscribers', 'x'),
      new errors.RateLimitedError('x'),
      new errors.UnavailableError('x'),
      new errors.InternalError('x'),
      new errors.ProtocolError('x'),
      new errors.InvalidPayloadError('x'),
      new errors.PolicyViolationError('x'),
    ];
    expect(instances.map((err) => err.code).sort()).toEqual([...tableCodes].sort());
    for (const err of instances) {
      expect(isFanwireError(err)).toBe(true);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(err.constructor.name);
    }
    expect(isFanwireError(new Error('plain'))).toBe(false);
    expect(isFanwireError({ code: 'bad_query' })).toBe(false);
  });
});
