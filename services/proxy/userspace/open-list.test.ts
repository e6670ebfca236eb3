/**
 * The open-connection list alone: membership, order, removal from anywhere,
 * and that a removed member keeps no link to the others (the reason it is not
 * a Set: see open-list.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OpenList } from './open-list.js';

class Member {
  prevOpen: Member | undefined;
  nextOpen: Member | undefined;
  constructor(readonly name: string) {}
}

const names = (list: OpenList<Member>) => list.toArray().map((m) => m.name);

test('members are listed newest first; removing the head, the middle and the tail keeps the rest linked', () => {
  const list = new OpenList<Member>();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Member(n)) as [Member, Member, Member, Member];
  for (const m of [a, b, c, d]) list.add(m);
  assert.deepEqual(names(list), ['d', 'c', 'b', 'a']);
  assert.equal(list.size, 4);
  list.delete(c);
  assert.deepEqual(names(list), ['d', 'b', 'a']);
  list.delete(d);
  assert.deepEqual(names(list), ['b', 'a']);
  list.delete(a);
  assert.deepEqual(names(list), ['b']);
  list.delete(b);
  assert.deepEqual(names(list), []);
  assert.equal(list.size, 0);
});

test('a removed member points at nothing, and nothing points at it', () => {
  const list = new OpenList<Member>();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => new Member(n)) as [Member, Member, Member];
  for (const m of [a, b, c]) list.add(m);
  list.delete(b);
  assert.equal(b.prevOpen, undefined);
  assert.equal(b.nextOpen, undefined);
  assert.equal(c.nextOpen, a);
  assert.equal(a.prevOpen, c);
});

test('adding a member twice, or removing one that is not in the list, changes nothing', () => {
  const list = new OpenList<Member>();
  const [a, b, stranger] = ['a', 'b', 'x'].map((n) => new Member(n)) as [Member, Member, Member];
  list.add(a);
  list.add(b);
  list.add(b);
  list.add(a);
  assert.deepEqual(names(list), ['b', 'a']);
  list.delete(stranger);
  list.delete(a);
  list.delete(a);
  assert.deepEqual(names(list), ['b']);
  assert.equal(list.size, 1);
});

test('members may remove themselves while the caller goes through toArray()', () => {
  const list = new OpenList<Member>();
  const members = Array.from({ length: 5 }, (_, i) => new Member(String(i)));
  for (const m of members) list.add(m);
  for (const m of list.toArray()) list.delete(m);
  assert.equal(list.size, 0);
  assert.deepEqual(names(list), []);
  for (const m of members) assert.equal(m.prevOpen ?? m.nextOpen, undefined);
});
