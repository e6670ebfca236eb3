/**
 * The proxy's iptables backend (kube-proxy's iptables mode): NAT rules in chains
 * of its own, balanced with `statistic`, sticky with `recent`, rejecting what has
 * no endpoint. No Kubernetes or NATS here: the proxy's front door turns Services
 * and Endpoints into `ServicePort[]` and calls `sync()`.
 *
 *   const ok = await IptablesBackend.available();
 *   const backend = new IptablesBackend({ serviceCIDR: '10.96.0.0/16', log });
 *   await backend.sync(ports); ... await backend.stop();
 */
export { IptablesBackend, IptablesError, isIptablesError, type Availability, type SyncReport } from './iptables.backend.js';
export { DEFAULT_SERVICE_CIDR, ruleOptions, type IptablesFamily, type IptablesOptions, type RuleOptions } from './options.js';
export { chainNames, DEFAULT_PREFIX, type ChainNames } from './chain-names.js';
export { buildRules, type RuleSet, type TableRules } from './rules.js';
export { generateRestore, noRules, partialRestore, stopRestore, syncRestore, type RestorePlan } from './restore-text.js';
export { parseSave, type SavedState, type SavedTable, type SavedRule } from './saved-state.js';
export { JUMP_COMMENT } from './jumps.js';
export { execRunner, netnsRunner, type CommandResult, type CommandRunner, type ExecRunnerOptions } from './runner.js';
