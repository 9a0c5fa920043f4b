import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTopicSerde } from '../../schemas/registry';
import { testConfig, testKafka, uniq } from '../support/stack';
import { chain, conversation, voltstream, writeFrames } from './frames-fixture';
import { frameHash } from '../../schemas/frame-chain';

/** voltstream transcript and verify against ocpp.frames records on the real broker (decoded through the real registry). */
const serde = createTopicSerde(testConfig().schemaRegistryUrl);
const kafka = testKafka('audit');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-audit-'));
const t0 = Date.parse('2026-03-02T06:00:00.000Z') + Math.floor(Math.random() * 1000) * 1000;

const intact = uniq('CP-AUDIT');
const tampered = uniq('CP-TAMPER');

beforeAll(async () => {
  await writeFrames(kafka, serde, chain(intact, conversation(t0)));
  // A chain edited after the fact, in the log itself: record 4's payload changed, hashes left as they were.
  const frames = chain(tampered, conversation(t0));
  frames[3] = { ...frames[3]!, payloadJson: frames[3]!.payloadJson!.replace('"TAG1"', '"TAG9"') };
  await writeFrames(kafka, serde, frames);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('transcript prints the conversation in the time range, oldest first', async () => {
  const r = await voltstream(['transcript', intact, '--from', new Date(t0 + 50_000).toISOString(), '--to', new Date(t0 + 150_000).toISOString()]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toBe(`OCPP transcript of ${intact}, ${new Date(t0 + 50_000).toISOString()} .. ${new Date(t0 + 150_000).toISOString()}: 4 frame(s)`);
  expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 6))).toEqual([
    [new Date(t0 + 60_000).toISOString(), '#4', 'IN', '->', 'CALL', 'StartTransaction'],
    [new Date(t0 + 60_050).toISOString(), '#5', 'OUT', '<-', 'CALLRESULT', 'StartTransaction'],
    [new Date(t0 + 120_000).toISOString(), '#6', 'IN', '->', 'CALL', 'MeterValues'],
    [new Date(t0 + 120_010).toISOString(), '#7', 'OUT', '<-', 'CALLRESULT', 'MeterValues'],
  ]);
  expect(lines[1]).toContain('{"connectorId":1,"idTag":"TAG1","meterStart":1000');
});

test('transcript --help shows the usage', async () => {
  const r = await voltstream(['transcript', '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^Usage: voltstream transcript <chargePointId> \[--from <iso>\] \[--to <iso>\]/);
});

test('verify: an untouched chain is intact, export writes it as JSON lines', async () => {
  const file = path.join(dir, 'intact.jsonl');
  const r = await voltstream(['verify', '--charger', intact, '--export', file]);
  expect(r.stdout).toContain(`ok      ${intact}: 9 record(s), seq 1..9`);
  expect(r.stdout).toContain('1 chain(s) intact, 9 record(s)');
  expect(r.code).toBe(0);
  expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(9);
  const again = await voltstream(['verify', '--file', file]);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain(`ok      ${intact}: 9 record(s), seq 1..9`);
});

test('verify --file: one payload edited in a copied log is named as the first broken link', async () => {
  const file = path.join(dir, 'copied.jsonl');
  expect((await voltstream(['verify', '--charger', intact, '--export', file])).code).toBe(0);
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const rec = JSON.parse(lines[5]!);
  expect(rec.frame.seq).toBe(6);
  rec.frame.payloadJson = rec.frame.payloadJson.replace('"2500"', '"2000"');
  lines[5] = JSON.stringify(rec);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const r = await voltstream(['verify', '--file', file]);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain(`BROKEN  ${intact}: 9 record(s), seq 1..9`);
  expect(r.stdout).toContain(`first broken link: seq 6 at ${file}:6`);
  expect(r.stdout).toMatch(/content does not match its hash .*: the record was edited/);
  expect(r.stdout).toContain('1 of 1 chain(s) broken');
});

test('verify --file: a record dropped, or its hash recomputed after an edit, breaks the next link', async () => {
  const file = path.join(dir, 'rehashed.jsonl');
  expect((await voltstream(['verify', '--charger', intact, '--export', file])).code).toBe(0);
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const rec = JSON.parse(lines[2]!);
  rec.frame.payloadJson = rec.frame.payloadJson.replace('Accepted', 'Rejected');
  rec.frame.hash = frameHash(rec.frame.prevHash, rec.frame);
  const rehashed = [...lines];
  rehashed[2] = JSON.stringify(rec);
  fs.writeFileSync(file, rehashed.join('\n') + '\n');
  const a = await voltstream(['verify', '--file', file]);
  expect(a.code).toBe(1);
  expect(a.stdout).toContain(`first broken link: seq 4 at ${file}:4`);
  expect(a.stdout).toMatch(/prevHash .* is not the hash of seq 3/);

  const dropped = lines.filter((_l, i) => i !== 4);
  fs.writeFileSync(file, dropped.join('\n') + '\n');
  const b = await voltstream(['verify', '--file', file]);
  expect(b.code).toBe(1);
  expect(b.stdout).toContain('first broken link: seq 6');
  expect(b.stdout).toContain('seq jumps from 4 to 6: 1 record(s) missing');
});

test('verify on the log names the tampered record by partition and offset', async () => {
  const r = await voltstream(['verify', '--charger', tampered]);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain(`BROKEN  ${tampered}: 9 record(s), seq 1..9`);
  expect(r.stdout).toMatch(/first broken link: seq 4 at ocpp\.frames partition \d+ offset \d+/);
  expect(r.stdout).toMatch(/the record was edited/);
});

test('transcript --json gives a copy that verify --file checks from its first record', async () => {
  const r = await voltstream(['transcript', intact, '--from', new Date(t0 + 50_000).toISOString(), '--json']);
  expect(r.code).toBe(0);
  const file = path.join(dir, 'transcript.jsonl');
  fs.writeFileSync(file, r.stdout);
  expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).frame.seq)).toEqual([4, 5, 6, 7, 8, 9]);
  const v = await voltstream(['verify', '--file', file]);
  expect(v.code).toBe(0);
  expect(v.stdout).toContain(`ok      ${intact}: 6 record(s), seq 4..9 (starts at seq 4: earlier records are not in the input, so its prevHash is not checked)`);
});
