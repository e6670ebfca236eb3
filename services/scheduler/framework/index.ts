/** The scheduling framework: plugin contracts, one scheduling decision, the FailedScheduling wording. */
export * from './types.js';
export { Framework, numFeasibleNodesToFind, type FrameworkOptions, type ScheduleResult } from './find-nodes.js';
export { ERR_NO_NODES, fitErrorMessage } from './fit-error.js';
