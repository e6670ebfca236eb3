/**
 * The pure parts of the cluster-IP helper, and its command sequence against a
 * recorded `ip` (the real one needs root and would change this machine).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalIP, clusterIPsOf, ipArgs, isValidInterfaceName, LocalAddresses, parseAddresses, planAddresses } from './local-addresses.js';
import { servicePort } from './test-kit.js';

test('interface names: a safe subset of what Linux accepts', () => {
  for (const ok of ['keelson-svc0', 'kube-ipvs0', 'a', 'x'.repeat(15)]) assert.ok(isValidInterfaceName(ok), ok);
  for (const bad of ['', 'x'.repeat(16), 'a b', 'a/b', 'eth0:1', '.', '..', 'a;rm']) assert.ok(!isValidInterfaceName(bad), bad);
  assert.throws(() => new LocalAddresses({ interfaceName: 'no spaces' }), /not valid/);
});

test('ip arguments: a dummy link and host-prefix addresses', () => {
  assert.deepEqual(ipArgs.addLink('keelson-svc0'), ['link', 'add', 'keelson-svc0', 'type', 'dummy']);
  assert.deepEqual(ipArgs.addAddress('10.96.0.1', 'k0'), ['addr', 'add', '10.96.0.1/32', 'dev', 'k0']);
  assert.deepEqual(ipArgs.deleteAddress('fd00::1', 'k0'), ['addr', 'del', 'fd00::1/128', 'dev', 'k0']);
  assert.deepEqual(ipArgs.deleteLink('k0'), ['link', 'del', 'k0']);
  assert.throws(() => ipArgs.addAddress('10.96.0.1; reboot', 'k0'), /not an IP/);
});

test('addresses are read from `ip -j addr`, without link-local ones', () => {
  const json = JSON.stringify([
    { ifname: 'k0', addr_info: [
      { family: 'inet', local: '10.96.0.1', prefixlen: 32, scope: 'global' },
      { family: 'inet6', local: 'fd00::1', prefixlen: 128, scope: 'global' },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ] },
  ]);
  assert.deepEqual(parseAddresses(json), ['10.96.0.1', 'fd00::1']);
  assert.deepEqual(parseAddresses('[]'), []);
  assert.deepEqual(parseAddresses(''), []);
});

test('the plan adds what is missing and removes what is not wanted, comparing canonical forms', () => {
  assert.deepEqual(planAddresses(['10.96.0.1', 'fd00::1', '10.96.0.9'], ['10.96.0.1', 'FD00:0::1', '10.96.0.2', '10.96.0.2', 'junk']), {
    add: ['10.96.0.2'],
    remove: ['10.96.0.9'],
  });
  assert.equal(canonicalIP('FD00:0:0::0001'), 'fd00::1');
  assert.equal(canonicalIP('fe80::1%eth0'), undefined);
  assert.equal(canonicalIP('300.1.1.1'), undefined);
});

test('cluster IPs of service ports, once each, headless skipped', () => {
  const ports = [
    servicePort('a', { clusterIP: '10.96.0.1', port: 80, endpoints: [] }),
    servicePort('a2', { clusterIP: '10.96.0.1', port: 443, endpoints: [] }),
    servicePort('b', { clusterIP: 'None', endpoints: [] }),
    servicePort('c', { endpoints: [] }),
  ];
  assert.deepEqual(clusterIPsOf(ports), ['10.96.0.1']);
});

test('sync creates the link when missing, then changes only the difference; a failed address is reported, not thrown', async () => {
  const calls: string[] = [];
  let linkExists = false;
  const run = async (args: string[]) => {
    const line = args.join(' ');
    calls.push(line);
    if (line.startsWith('-j link show')) {
      if (!linkExists) throw new Error('Device "k0" does not exist.');
      return '[]';
    }
    if (line.startsWith('link add')) linkExists = true;
    if (line.startsWith('-j addr show')) return JSON.stringify([{ addr_info: [{ local: '10.96.0.9', scope: 'global' }] }]);
    if (line === 'addr add 10.96.0.3/32 dev k0') throw new Error('RTNETLINK answers: Operation not permitted');
    return '';
  };
  const logs: string[] = [];
  const local = new LocalAddresses({ interfaceName: 'k0', run, log: (m) => logs.push(m) });
  const changes = await local.sync(['10.96.0.2', '10.96.0.3']);
  assert.deepEqual(changes, { added: ['10.96.0.2'], removed: ['10.96.0.9'], failed: ['10.96.0.3'] });
  assert.deepEqual(calls, [
    '-j link show dev k0',
    'link add k0 type dummy',
    '-j addr show dev k0',
    'addr del 10.96.0.9/32 dev k0',
    'addr add 10.96.0.2/32 dev k0',
    'addr add 10.96.0.3/32 dev k0',
  ]);
  assert.ok(logs.some((l) => l.includes('not permitted')));

  calls.length = 0;
  await local.remove();
  assert.deepEqual(calls, ['-j link show dev k0', 'link del k0']);
});

test('sync rejects with a clear reason when the link cannot be made', async () => {
  const local = new LocalAddresses({
    interfaceName: 'k0',
    run: async (args) => {
      throw new Error(`ip ${args.join(' ')}: Operation not permitted`);
    },
  });
  await assert.rejects(local.sync(['10.96.0.1']), /cannot create interface k0 for cluster IPs \(needs root\): ip link add k0 type dummy: Operation not permitted/);
});

test('without the dummy kernel module, a port-less bridge holds the addresses', async () => {
  const calls: string[] = [];
  let made = false;
  const local = new LocalAddresses({
    interfaceName: 'k0',
    run: async (args) => {
      calls.push(args.join(' '));
      if (args[1] === 'link' && args[2] === 'show' && !made) throw new Error('Device "k0" does not exist.');
      if (args.join(' ') === 'link add k0 type dummy') throw new Error('Error: Unknown device type.');
      if (args.join(' ') === 'link add k0 type bridge') made = true;
      return args.includes('addr') && args.includes('show') ? '[]' : '';
    },
  });
  const changes = await local.sync(['10.96.0.1']);
  assert.deepEqual(changes.added, ['10.96.0.1']);
  assert.ok(calls.includes('link add k0 type bridge'), calls.join('; '));
});
