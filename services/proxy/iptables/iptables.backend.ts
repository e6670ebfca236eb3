/**
 * The proxy's iptables mode (kube-proxy's): service ports become NAT rules in
 * chains of the backend's own, written atomically with `iptables-restore
 * --noflush`: a change writes only the changed ports' rules, and the first sync,
 * a periodic resync and any sync after a failure read what is there with
 * `iptables-save` and rewrite everything. Only its own chains (chain-names.ts)
 * and its marked jumps (jumps.ts) are ever written; `stop()` removes both. Syncs
 * run one at a time, in call order.
 *
 *   if ((await IptablesBackend.available()).ok) backends.push(new IptablesBackend({ log }));
 */
import type { ProxyBackend, ServicePort } from '../types.js';
import { deleteStaleUdp, staleUdpDeletions } from './conntrack.js';
import { chainNames, type ChainNames } from './chain-names.js';
import { ruleOptions, type IptablesFamily, type IptablesOptions, type RuleOptions } from './options.js';
import { partialRestore, stopRestore, syncRestore } from './restore-text.js';
import { buildRules, comment, markOf, type RuleSet } from './rules.js';
import { emptyTable, parseSave, type SavedState } from './saved-state.js';
import { execRunner, type CommandResult, type CommandRunner } from './runner.js';

/** Whether this process may program iptables, and if not, why (for the front door's log). */
export type Availability = { ok: true } | { ok: false; reason: string };

/** Figures of one sync, for metrics and the benchmark. */
export type SyncReport = {
  ports: number;
  chains: number;
  rules: number;
  /** Own chains deleted because no port needs them any more. */
  deleted: number;
  /** Only the chains that changed were rewritten (no iptables-save): restore-text.ts partialRestore. */
  partial: boolean;
  /** iptables-save of both tables, ms (0 for a partial sync). */
  readMs: number;
  /** Rule generation and restore text, ms. */
  generateMs: number;
  /** iptables-restore, ms. */
  restoreMs: number;
  totalMs: number;
};

/** iptables itself failed: a missing binary, no permission, or input it refused. */
export class IptablesError extends Error {
  override readonly name = 'IptablesError';
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export const isIptablesError = (e: unknown): e is IptablesError => e instanceof IptablesError;

/** Seconds iptables-restore waits for the xtables lock (held by other legacy iptables users). */
const LOCK_WAIT_S = '5';

export class IptablesBackend implements ProxyBackend {
  readonly names: ChainNames;
  readonly options: RuleOptions;
  private readonly family: IptablesFamily;
  private readonly run: CommandRunner;
  private readonly log: (message: string) => void;
  private readonly resyncMs: number;
  private readonly retryMs: number;
  private tail: Promise<void> = Promise.resolve();
  private latest: ServicePort[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private report: SyncReport | undefined;
  private loggedNotes = new Set<string>();
  /** The rules of the last successful sync: what a partial sync diffs against (undefined: the next sync is full). */
  private lastRules: RuleSet | undefined;
  /** The last rules made, applied or not: unchanged ports reuse their rules from it (rules.ts buildRules). */
  private lastBuilt: RuleSet | undefined;
  /** The service ports of the last applied sync: what stale UDP flows are judged against. */
  private applied: ServicePort[] = [];
  private conntrackProblem: string | undefined;

  /** Throws on options iptables would refuse (a bad prefix or CIDR): a configuration error. */
  constructor(options: IptablesOptions = {}) {
    this.options = ruleOptions(options);
    this.names = chainNames(this.options.prefix);
    this.family = options.family ?? 'iptables';
    this.run = options.run ?? execRunner();
    this.log = options.log ?? (() => undefined);
    this.resyncMs = options.resyncMs ?? 30_000;
    this.retryMs = options.retryMs ?? 5_000;
  }

  /**
   * Whether iptables works here: a dry run (`iptables-restore --test`, nothing is
   * committed) of a chain in nat and filter with every match and target the
   * backend uses. Needs root, or CAP_NET_ADMIN, in the network namespace. With
   * `iptables-legacy`, even the dry run makes the kernel set up its (empty) legacy
   * nat and filter tables, which then stay: probe only the family you mean to use.
   */
  static async available(options: Pick<IptablesOptions, 'family' | 'run' | 'prefix'> = {}): Promise<Availability> {
    const family = options.family ?? 'iptables';
    const run = options.run ?? execRunner({ timeoutMs: 10_000 });
    const probe = `${options.prefix ?? 'KEELSON'}-PROBE`;
    const mark = markOf(14);
    const text = [
      '*nat',
      `:${probe} - [0:0]`,
      `-A ${probe} -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -p tcp -m tcp --dport 1 ${comment('probe')} -j RETURN`,
      `-A ${probe} -m recent --name ${probe} --mask 255.255.255.255 --rsource --rcheck --seconds 10 --reap -m statistic --mode random --probability 0.5000000000 -j RETURN`,
      `-A ${probe} -p udp -m recent --name ${probe} --set --mask 255.255.255.255 --rsource -m udp -j DNAT --to-destination 127.0.0.1:1`,
      `-A ${probe} -m mark ! --mark ${mark}/${mark} -j MARK --or-mark ${mark}`,
      `-A ${probe} -j MASQUERADE`,
      'COMMIT',
      '*filter',
      `:${probe} - [0:0]`,
      `-A ${probe} -d 10.96.0.0/16 -j REJECT --reject-with icmp-port-unreachable`,
      'COMMIT',
      '',
    ].join('\n');
    const r = await run([`${family}-restore`, '-w', LOCK_WAIT_S, '--test', '--noflush'], text);
    if (r.code === 0) return { ok: true };
    return { ok: false, reason: `${family}-restore --test failed (exit ${r.code}): ${firstLine(r.stderr) || 'no message'}; the iptables proxy needs root or CAP_NET_ADMIN` };
  }

  /** Figures of the last successful sync. */
  lastSync(): SyncReport | undefined {
    return this.report;
  }

  /**
   * Makes the own chains match `ports`. Ports or endpoints that cannot be rules
   * are left out and logged; rejects only when iptables fails (nothing of that sync
   * is applied; it is retried after `retryMs` unless a newer sync comes first).
   */
  sync(ports: ServicePort[]): Promise<void> {
    if (this.stopped) {
      this.log('iptables proxy: sync after stop ignored');
      return Promise.resolve();
    }
    this.latest = ports;
    this.clearTimer();
    return this.enqueue(() => this.apply(ports));
  }

  /** Waits for syncs in flight, then removes the jumps and deletes every own chain. */
  stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    return this.enqueue(async () => {
      const plan = stopRestore(await this.read(), this.names);
      if (plan.text) await this.restore(plan.text);
      if (plan.kept.length > 0) this.log(`iptables proxy: ${keptNote(plan.kept)}`);
    });
  }

  /**
   * A change rewrites only the chains it touched (no iptables-save: a full sync of
   * 1,000 ports spends most of its time reading and restoring everything); the
   * periodic resync, the first sync and any sync after a failure are full: they
   * read what is there, fix the jumps and delete what is stale.
   */
  private async apply(ports: ServicePort[], full = false): Promise<void> {
    const t0 = performance.now();
    const rules = buildRules(ports, this.options, this.lastBuilt);
    this.lastBuilt = rules;
    try {
      if (!full && this.lastRules) {
        try {
          const { text, deleted } = partialRestore(this.lastRules, rules);
          const t2 = performance.now();
          this.logNotes(rules.notes);
          if (text) await this.restore(text);
          await this.done(ports, rules, { partial: true, deleted: deleted.length, readMs: 0, generateMs: t2 - t0, restoreMs: performance.now() - t2, t0 });
          return;
        } catch (e) {
          this.log(`iptables proxy: a partial sync failed (${(e as Error).message}); doing a full one`);
        }
      }
      this.lastRules = undefined;
      const saved = await this.read();
      const t1 = performance.now();
      const plan = syncRestore(rules, saved, this.names);
      const t2 = performance.now();
      this.logNotes(plan.kept.length > 0 ? [...rules.notes, keptNote(plan.kept)] : rules.notes);
      await this.restore(plan.text);
      await this.done(ports, rules, { partial: false, deleted: plan.deleted.length, readMs: t1 - t0, generateMs: t2 - t1, restoreMs: performance.now() - t2, t0 });
    } catch (e) {
      this.lastRules = undefined;
      this.schedule(this.retryMs);
      throw e;
    }
  }

  /** After a successful restore: stale UDP flows, the report, the next resync. */
  private async done(ports: ServicePort[], rules: RuleSet, r: Omit<SyncReport, 'ports' | 'chains' | 'rules' | 'totalMs'> & { t0: number }): Promise<void> {
    this.lastRules = rules;
    await this.clearStaleUdp(ports);
    const { t0, ...figures } = r;
    this.report = {
      ports: ports.length,
      chains: rules.nat.chains.length + rules.filter.chains.length,
      rules: rules.nat.rules.length + rules.filter.rules.length,
      ...figures,
      totalMs: performance.now() - t0,
    };
    this.schedule(this.resyncMs);
  }

  /** Deletes the conntrack entries of UDP endpoints that are gone (conntrack.ts); a problem is logged when it changes. */
  private async clearStaleUdp(ports: ServicePort[]): Promise<void> {
    const deletions = staleUdpDeletions(this.applied, ports);
    this.applied = ports;
    if (deletions.length === 0) return;
    const problem = await deleteStaleUdp(this.run, deletions);
    if (problem && problem !== this.conntrackProblem) this.log(`iptables proxy: ${problem}`);
    this.conntrackProblem = problem;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.tail.then(job);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Re-applies the latest ports later (resync, or retry after a failure). */
  private schedule(ms: number): void {
    this.clearTimer();
    if (ms <= 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const ports = this.latest;
      if (!ports || this.stopped) return;
      this.enqueue(() => this.apply(ports, true)).catch((e: Error) => this.log(`iptables proxy: resync failed: ${e.message}`));
    }, ms);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Logs each note once while it stays true, not at every resync. */
  private logNotes(notes: string[]): void {
    for (const n of notes) if (!this.loggedNotes.has(n)) this.log(`iptables proxy: ${n}`);
    this.loggedNotes = new Set(notes);
  }

  private async read(): Promise<SavedState> {
    const save = (table: string) => this.check([`${this.family}-save`, '-t', table]);
    const [nat, filter] = await Promise.all([save('nat'), save('filter')]);
    return { nat: parseSave(nat.stdout).get('nat') ?? emptyTable(), filter: parseSave(filter.stdout).get('filter') ?? emptyTable() };
  }

  private async restore(text: string): Promise<void> {
    await this.check([`${this.family}-restore`, '-w', LOCK_WAIT_S, '--noflush'], text);
  }

  private async check(argv: string[], input?: string): Promise<CommandResult> {
    const r = await this.run(argv, input);
    if (r.code === 0) return r;
    const line = input === undefined ? '' : failedLine(r.stderr, input);
    throw new IptablesError(`${argv[0]} failed (exit ${r.code}): ${firstLine(r.stderr) || 'no message'}${line ? `; the line was: ${line}` : ''}`, argv.join(' '), r.code, r.stderr);
  }
}

function keptNote(kept: string[]): string {
  return `own chains left empty because rules it did not make still jump to them: ${kept.join(', ')}`;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** The input line iptables-restore names in its error (nft: "line N failed", legacy: "Error occurred at line: N"). */
function failedLine(stderr: string, input: string): string {
  const m = /line:? (\d+)/.exec(stderr);
  return m ? (input.split('\n')[Number(m[1]) - 1] ?? '') : '';
}
