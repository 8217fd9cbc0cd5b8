/** JetStreamLog against a real nats-server: the stream, publishing, the epoch, outages. */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamLog, epochOf, subjectMatches } from '../../src/cluster/index.js';
import { UnavailableError } from '../../src/errors.js';
import { until } from '../helpers.js';
import { NatsServer, describeWithNats } from './nats-server.js';

describe('subjectMatches', () => {
  const cases: Array<[string, string, boolean]> = [
    ['fanwire.events', 'fanwire.events', true],
    ['fanwire.*', 'fanwire.events', true],
    ['fanwire.>', 'fanwire.events.eu', true],
    ['>', 'fanwire.events', true],
    ['fanwire.*', 'fanwire.events.eu', false],
    ['fanwire.other', 'fanwire.events', false],
    ['fanwire.events.>', 'fanwire.events', false],
  ];
  for (const [pattern, subject, matches] of cases) {
    it(`${matches ? 'matches' : 'does not match'} ${subject} with ${pattern}`, () => {
      expect(subjectMatches(pattern, subject)).toBe(matches);
    });
  }
});

describeWithNats('JetStreamLog (real nats-server)', () => {
  let nats: NatsServer;
  const open: JetStreamLog[] = [];
  let streamNo = 0;
  const fresh = () => `T${++streamNo}`;
  const openLog = async (stream: string, extra: Partial<Parameters<typeof JetStreamLog.open>[0]> = {}) => {
    const log = await JetStreamLog.open({ servers: [nats.url], stream, subject: `${stream}.events`, ...extra });
    open.push(log);
    return log;
  };

  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((log) => log.close()));
    await nats.start(); // a test that stopped it leaves it running for the next
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it('creates a missing stream with file storage, limits retention and one replica', async () => {
    const stream = fresh();
    const log = await openLog(stream, { maxMsgs: 1234 });
    expect(log.created).toBe(true);
    const { config } = await log.info();
    expect(config).toMatchObject({ name: stream, subjects: [`${stream}.events`], storage: 'file', retention: 'limits', max_msgs: 1234, num_replicas: 1, discard: 'old' });
  });

  it('uses an existing stream as it is, without changing its settings', async () => {
    const stream = fresh();
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: 'memory', max_msgs: 50 });
    await nc.close();
    const log = await openLog(stream);
    expect(log.created).toBe(false);
    expect((await log.info()).config).toMatchObject({ subjects: [`${stream}.>`], storage: 'memory', max_msgs: 50 });
  });

  it('refuses to open a stream that does not capture its subject', async () => {
    const stream = fresh();
    await openLog(stream);
    await expect(JetStreamLog.open({ servers: [nats.url], stream, subject: 'elsewhere.events' })).rejects.toThrow(/does not capture subject elsewhere\.events/);
  });

  it('acks each publish with its stream sequence', async () => {
    const log = await openLog(fresh());
    const seqs = await Promise.all([1, 2, 3].map((i) => log.publish(new Uint8Array([i])).then((a) => a.seq)));
    expect(seqs).toEqual([1, 2, 3]);
  });

  it('derives one epoch per stream lifetime: the same from every connection and across a nats-server restart, new when the stream is recreated', async () => {
    const stream = fresh();
    const a = await openLog(stream);
    const b = await openLog(stream);
    expect(a.epoch).toMatch(/^[0-9a-f]{16}$/);
    expect(b.epoch).toBe(a.epoch);
    expect(a.epoch).toBe(epochOf(a.identity));

    await nats.restart();
    const afterRestart = await openLog(stream);
    expect(afterRestart.created).toBe(false);
    expect(afterRestart.epoch).toBe(a.epoch);

    await afterRestart.jsm.streams.delete(stream);
    const recreated = await openLog(stream);
    expect(recreated.created).toBe(true);
    expect(recreated.epoch).not.toBe(a.epoch);
  });

  it('refuses a publish with UnavailableError while NATS is down, stores nothing of it, and publishes again once reconnected', async () => {
    const log = await openLog(fresh());
    expect((await log.publish(new Uint8Array([1]))).seq).toBe(1);
    const states: string[] = [];
    log.onState((state) => states.push(state));
    await nats.stop();
    await until(() => !log.connected, 'the log to notice the outage');
    await expect(log.publish(new Uint8Array([2]))).rejects.toBeInstanceOf(UnavailableError);
    await nats.start();
    await until(() => log.connected, 'the log to reconnect', 30_000);
    expect(states).toEqual(['disconnected', 'connected']);
    expect((await log.publish(new Uint8Array([3]))).seq).toBe(2); // the refused frame never reached the stream
    expect((await log.info()).state.messages).toBe(2);
  });

  it('gives up connecting after its connect timeout with an error naming the servers', async () => {
    const nowhere = 'nats://127.0.0.1:1';
    await expect(JetStreamLog.open({ servers: [nowhere], stream: 'X', subject: 'x', connectTimeoutMs: 1_500 })).rejects.toThrow(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  });
});
