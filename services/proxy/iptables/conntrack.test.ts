import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServicePort } from '../types.js';
import { deleteStaleUdp, staleUdpDeletions } from './conntrack.js';

const port = (key: string, protocol: 'TCP' | 'UDP', endpoints: string[], nodePort?: number): ServicePort => ({
  key,
  namespace: 'default',
  name: key,
  portName: '',
  protocol,
  clusterIP: '10.96.0.53',
  port: 53,
  ...(nodePort ? { nodePort } : {}),
  sessionAffinity: { type: 'None' },
  endpoints: endpoints.map((ip) => ({ ip, port: 5353 })),
});

test('a removed UDP endpoint: its flows through the cluster IP and the node port go', () => {
  const d = staleUdpDeletions([port('dns', 'UDP', ['10.0.0.1', '10.0.0.2'], 30053)], [port('dns', 'UDP', ['10.0.0.2'], 30053)]);
  assert.deepEqual(d, [
    ['-p', 'udp', '--orig-dst', '10.96.0.53', '--orig-port-dst', '53', '--dst-nat', '10.0.0.1'],
    ['-p', 'udp', '--orig-port-dst', '30053', '--dst-nat', '10.0.0.1'],
  ]);
});

test('a UDP port that gets its first endpoint: every flow to it goes; TCP changes need nothing', () => {
  assert.deepEqual(staleUdpDeletions([port('dns', 'UDP', [])], [port('dns', 'UDP', ['10.0.0.1'])]), [['-p', 'udp', '--orig-dst', '10.96.0.53', '--orig-port-dst', '53']]);
  assert.deepEqual(staleUdpDeletions([port('web', 'TCP', ['10.0.0.1'])], [port('web', 'TCP', [])]), []);
  assert.deepEqual(staleUdpDeletions([port('dns', 'UDP', ['10.0.0.1'])], [port('dns', 'UDP', ['10.0.0.1'])]), [], 'nothing changed');
});

test('a removed UDP service port: the flows to its endpoints go', () => {
  assert.deepEqual(staleUdpDeletions([port('dns', 'UDP', ['10.0.0.1'])], []), [['-p', 'udp', '--orig-dst', '10.96.0.53', '--orig-port-dst', '53', '--dst-nat', '10.0.0.1']]);
});

test('conntrack finding nothing is fine; a missing conntrack is reported with the fix', async () => {
  const calls: string[] = [];
  const none = await deleteStaleUdp(async (argv) => {
    calls.push(argv.join(' '));
    return { code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' };
  }, [['-p', 'udp', '--orig-port-dst', '30053']]);
  assert.equal(none, undefined);
  assert.deepEqual(calls, ['conntrack -D -p udp --orig-port-dst 30053']);
  const missing = await deleteStaleUdp(async () => ({ code: 127, stdout: '', stderr: 'not found' }), [['-p', 'udp']]);
  assert.match(missing ?? '', /apt-get install conntrack/);
});
