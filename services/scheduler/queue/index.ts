/** The scheduling queue: active by priority, back-off, and parked unschedulable pods. */
export { DEFAULT_BACKOFF, SchedulingQueue, type BackOff, type ClusterEvent, type QueuedPod, type QueueLengths, type SchedulingQueueOptions } from './scheduling.queue.js';
