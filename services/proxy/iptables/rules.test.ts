/** The pure parts of the iptables backend: chain names, port checks and rule generation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base32, chainNames, MAX_CHAIN_NAME } from './chain-names.js';
import { ruleOptions } from './options.js';
import { buildRules, markOf } from './rules.js';
import { servicePort } from './testing/builders.js';

const opts = ruleOptions();
const names = chainNames();
const web = servicePort('web', '10.96.0.10', { endpoints: ['192.0.2.11', '192.0.2.12', '192.0.2.13'] });
const rulesOf = (chain: string, lines: string[]) => lines.filter((l) => l.startsWith(`-A ${chain} `));

test('base32 is RFC 4648 (no padding)', () => {
  assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI');
  assert.equal(base32(Buffer.from('f')), 'MY');
  assert.equal(base32(new Uint8Array()), '');
});

test('chain names are stable hashes of the port key (and endpoint), 28 characters at most', () => {
  const svc = names.service(web.key);
  assert.match(svc, /^KEELSON-SVC-[A-Z2-7]{16}$/);
  assert.equal(svc.length, MAX_CHAIN_NAME);
  assert.equal(chainNames().service(web.key), svc, 'same key, same name, in another instance');
  assert.notEqual(names.service('default/web:https/TCP'), svc);
  const sep = names.endpoint(web.key, '192.0.2.11', 8080);
  assert.match(sep, /^KEELSON-SEP-[A-Z2-7]{16}$/);
  assert.notEqual(names.endpoint(web.key, '192.0.2.11', 8081), sep);
  assert.notEqual(names.endpoint('default/db:http/TCP', '192.0.2.11', 8080), sep);

  const short = chainNames('KUBE2');
  assert.equal(short.service(web.key).length, MAX_CHAIN_NAME);
  const long = chainNames('ABCDEFGHIJKL');
  assert.match(long.endpoint(web.key, '1.2.3.4', 1), /^ABCDEFGHIJKL-SEP-[A-Z2-7]{11}$/);
  for (const bad of ['keelson', 'K EELSON', 'KEELSON-', 'ABCDEFGHIJKLM', '']) assert.throws(() => chainNames(bad), /prefix/);
});

test('owns() knows exactly the names the backend makes', () => {
  for (const n of ['KEELSON-SERVICES', 'KEELSON-NODEPORTS', 'KEELSON-POSTROUTING', 'KEELSON-MARK-MASQ', names.service('a'), names.endpoint('a', '1.1.1.1', 1)]) {
    assert.ok(names.owns(n), n);
  }
  for (const n of ['KEELSON-MINE', 'KEELSON-SVC-ABC', 'KEELSON-SVC-ABCDEFGHIJKLMNOPQ', 'KEELSON-SVC-abcdefghijklmnop', 'KUBE-SERVICES', 'OUTPUT', chainNames('OTHER').services]) {
    assert.ok(!names.owns(n), n);
  }
});

test('a port balances over its endpoints with statistic 1/n, 1/(n-1), ..., then DNATs', () => {
  const { nat, filter, notes } = buildRules([web], opts);
  const svc = names.service(web.key);
  const seps = web.endpoints.map((e) => names.endpoint(web.key, e.ip, e.port));
  assert.deepEqual(notes, []);
  assert.deepEqual(nat.chains, ['KEELSON-SERVICES', 'KEELSON-NODEPORTS', 'KEELSON-POSTROUTING', 'KEELSON-MARK-MASQ', svc, ...seps]);
  assert.deepEqual(filter.chains, ['KEELSON-SERVICES', 'KEELSON-NODEPORTS']);
  const portal = rulesOf('KEELSON-SERVICES', nat.rules);
  assert.match(portal[0]!, new RegExp(`^-A KEELSON-SERVICES -d 10\\.96\\.0\\.10/32 -p tcp -m tcp --dport 80 .*-j ${svc}$`));
  assert.match(portal.at(-1)!, /-m addrtype --dst-type LOCAL ! -d 127\.0\.0\.0\/8 .*-j KEELSON-NODEPORTS$/, 'node ports come last');
  const balance = rulesOf(svc, nat.rules);
  assert.deepEqual(
    balance.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'rest'),
    ['0.3333333333', '0.5000000000', 'rest'],
  );
  assert.deepEqual(balance.map((l) => l.split(' -j ')[1]), seps);
  assert.match(rulesOf(seps[0]!, nat.rules)[0]!, /-s 192\.0\.2\.11\/32 .*-j KEELSON-MARK-MASQ$/, 'hairpin traffic is marked');
  assert.match(rulesOf(seps[0]!, nat.rules)[1]!, /-p tcp .*-j DNAT --to-destination 192\.0\.2\.11:8080$/);
  assert.doesNotMatch(nat.rules.join('\n'), /recent/);
});

test('one endpoint needs no statistic; UDP ports speak udp', () => {
  const dns = servicePort('dns', '10.96.0.53', { protocol: 'UDP', port: 53, endpoints: [{ ip: '192.0.2.11', port: 5353 }] });
  const { nat } = buildRules([dns], opts);
  const svc = names.service(dns.key);
  assert.equal(dns.key, 'default/dns:http/UDP');
  assert.deepEqual(rulesOf(svc, nat.rules).map((l) => l.includes('statistic')), [false]);
  assert.ok(nat.rules.some((l) => l.includes('-d 10.96.0.53/32 -p udp -m udp --dport 53')));
  assert.ok(nat.rules.some((l) => / -p udp .*-m udp -j DNAT --to-destination 192\.0\.2\.11:5353$/.test(l)));
});

test('ClientIP affinity checks `recent` per endpoint before balancing, and each endpoint remembers the client', () => {
  const sticky = servicePort('sticky', '10.96.0.40', { endpoints: ['192.0.2.11', '192.0.2.12'], sessionAffinity: { type: 'ClientIP', timeoutSeconds: 600 } });
  const { nat } = buildRules([sticky], opts);
  const svc = names.service(sticky.key);
  const seps = sticky.endpoints.map((e) => names.endpoint(sticky.key, e.ip, e.port));
  const lines = rulesOf(svc, nat.rules);
  assert.equal(lines.length, 4);
  lines.slice(0, 2).forEach((l, i) => assert.match(l, new RegExp(`-m recent --name ${seps[i]} --mask 255\\.255\\.255\\.255 --rsource --rcheck --seconds 600 --reap -j ${seps[i]}$`)));
  assert.match(lines[2]!, /statistic/);
  for (const sep of seps) assert.match(rulesOf(sep, nat.rules)[1]!, new RegExp(`-m recent --name ${sep} --set --mask 255\\.255\\.255\\.255 --rsource .*-j DNAT`));
});

test('node ports are marked for masquerade and jump to the service chain', () => {
  const np = servicePort('np', '10.96.0.30', { nodePort: 30080, endpoints: ['192.0.2.11'] });
  const { nat } = buildRules([np], opts);
  const lines = rulesOf('KEELSON-NODEPORTS', nat.rules);
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^-A KEELSON-NODEPORTS -p tcp -m tcp --dport 30080 .*-j KEELSON-MARK-MASQ$/);
  assert.match(lines[1]!, new RegExp(`--dport 30080 .*-j ${names.service(np.key)}$`));
});

test('a port with no endpoints is rejected in filter, not forwarded; so is anything else in the service CIDR', () => {
  const empty = servicePort('empty', '10.96.0.20', { nodePort: 30081 });
  const { nat, filter } = buildRules([web, empty], opts);
  assert.ok(!nat.rules.some((l) => l.includes('10.96.0.20')), 'no nat portal');
  assert.ok(!nat.chains.includes(names.service(empty.key)), 'no service chain');
  const rejects = rulesOf('KEELSON-SERVICES', filter.rules);
  assert.match(rejects[0]!, /-d 10\.96\.0\.20\/32 -p tcp -m tcp --dport 80 .*-j REJECT --reject-with icmp-port-unreachable$/);
  assert.match(rejects.at(-1)!, /^-A KEELSON-SERVICES -d 10\.96\.0\.0\/16 .*-j REJECT/, 'the CIDR catch-all is last');
  assert.match(rulesOf('KEELSON-NODEPORTS', filter.rules)[0]!, /-m addrtype --dst-type LOCAL .*--dport 30081 .*-j REJECT/);

  const custom = buildRules([], ruleOptions({ serviceCIDR: '172.30.0.0/16' }));
  assert.match(custom.filter.rules.join('\n'), /-d 172\.30\.0\.0\/16 /);
  assert.deepEqual(buildRules([], ruleOptions({ serviceCIDR: null })).filter.rules, []);
});

test('masquerading: mark bit, POSTROUTING, cluster CIDR and masquerade-all', () => {
  assert.equal(markOf(14), '0x4000');
  assert.equal(markOf(31), '0x80000000');
  const plain = buildRules([web], opts).nat.rules;
  assert.deepEqual(rulesOf('KEELSON-MARK-MASQ', plain), ['-A KEELSON-MARK-MASQ -j MARK --or-mark 0x4000']);
  assert.deepEqual(rulesOf('KEELSON-POSTROUTING', plain).map((l) => l.split(' -j ')[1]), ['RETURN', 'MARK --xor-mark 0x4000', 'MASQUERADE']);
  const svc = names.service(web.key);
  assert.ok(!rulesOf(svc, plain).some((l) => l.includes('MARK-MASQ')), 'no cluster IP masquerade by default');

  const cidr = rulesOf(svc, buildRules([web], ruleOptions({ clusterCIDR: '10.244.0.0/16' })).nat.rules);
  assert.match(cidr[0]!, /^-A \S+ ! -s 10\.244\.0\.0\/16 -d 10\.96\.0\.10\/32 .*-j KEELSON-MARK-MASQ$/);
  const all = rulesOf(svc, buildRules([web], ruleOptions({ masqueradeAll: true })).nat.rules);
  assert.match(all[0]!, /-j KEELSON-MARK-MASQ$/);
  assert.match(buildRules([], ruleOptions({ masqueradeBit: 3 })).nat.rules.join('\n'), /--or-mark 0x8\b/);
  assert.throws(() => ruleOptions({ masqueradeBit: 32 }), /masqueradeBit/);
  assert.throws(() => ruleOptions({ serviceCIDR: '10.96.0.0' }), /serviceCIDR/);
});

test('bad ports and endpoints are left out with a note; the others are still programmed', () => {
  const ports = [
    servicePort('v6', 'fd00::10', { endpoints: ['192.0.2.11'] }),
    servicePort('headless', 'None', { endpoints: ['192.0.2.11'] }),
    servicePort('noip', '', { endpoints: ['192.0.2.11'] }),
    servicePort('badport', '10.96.0.2', { port: 0 }),
    servicePort('mixed', '10.96.0.3', { endpoints: ['192.0.2.11', 'fd00::1', { ip: '192.0.2.12', port: 70000 }, '192.0.2.11'] }),
    servicePort('dupe', '10.96.0.3', { portName: 'other', endpoints: ['192.0.2.13'] }),
    servicePort('mixed', '10.96.0.4', { endpoints: ['192.0.2.13'] }),
    servicePort('np2', '10.96.0.5', { nodePort: 30080, endpoints: ['192.0.2.11'] }),
    servicePort('np3', '10.96.0.6', { nodePort: 30080, endpoints: ['192.0.2.11'] }),
    servicePort('sticky', '10.96.0.7', { endpoints: ['192.0.2.11'], sessionAffinity: { type: 'ClientIP', timeoutSeconds: -5 } }),
    servicePort('weird"name', '10.96.0.8', { endpoints: ['192.0.2.11'] }),
  ];
  const { nat, notes } = buildRules(ports, opts);
  assert.equal(notes.length, 8, notes.join('\n'));
  assert.match(notes.join('\n'), /fd00::10 is not IPv4/);
  assert.match(notes.join('\n'), /port 0 is out of range/);
  assert.match(notes.join('\n'), /endpoint fd00::1:8080 is not/);
  assert.match(notes.join('\n'), /10\.96\.0\.3:80\/tcp already belongs/);
  assert.match(notes.join('\n'), /default\/mixed:http\/TCP appears twice/);
  assert.match(notes.join('\n'), /node port 30080\/tcp already belongs/);
  assert.match(notes.join('\n'), /affinity timeout -5 .* using 10800/);
  const mixed = servicePort('mixed', '10.96.0.3');
  assert.equal(rulesOf(names.service(mixed.key), nat.rules).length, 1, 'one valid endpoint, duplicates removed');
  assert.equal(nat.rules.filter((l) => l.includes('--dport 30080')).length, 2, 'only the first owner of a node port');
  assert.ok(nat.rules.some((l) => l.includes('--seconds 10800')));
  assert.ok(nat.rules.some((l) => l.includes('--comment "default/weird_name:http/TCP cluster IP"')), 'comments are quoted safely');
});

test('generation is deterministic', () => {
  const a = buildRules([web, servicePort('np', '10.96.0.30', { nodePort: 30080, endpoints: ['192.0.2.11'] })], opts);
  const b = buildRules([web, servicePort('np', '10.96.0.30', { nodePort: 30080, endpoints: ['192.0.2.11'] })], opts);
  assert.deepEqual(a, b);
});
