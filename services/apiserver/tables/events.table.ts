/**
 * `kubectl get events`: LAST SEEN TYPE REASON OBJECT MESSAGE, and in `-o wide`
 * SUBOBJECT and SOURCE (before MESSAGE), FIRST SEEN, COUNT, NAME (after it).
 */
import type { KObject } from '../../lib/api/resources.js';
import { age, parseTime } from './age.js';
import { column, nameColumn, num, rec, str, wide } from './format.js';
import type { Printer } from './types.js';

/** `pod/nginx`, or just the lower-cased kind when the object has no name. */
export function eventObject(ev: KObject): string {
  const involved = rec(ev.involvedObject);
  const kind = str(involved.kind).toLowerCase();
  const name = str(involved.name);
  return name ? `${kind}/${name}` : kind;
}

/** `kubelet, node-1`: component (or reporting controller), then host (or instance). */
export function eventSource(ev: KObject): string {
  const source = rec(ev.source);
  const component = str(source.component) || str(ev.reportingComponent);
  const instance = str(source.host) || str(ev.reportingInstance);
  return instance ? `${component}, ${instance}` : component;
}

export const eventPrinter: Printer = {
  columns: [
    column('Last Seen', 'string', 'Time since the event was last observed.'),
    column('Type', 'string', 'Type of the event: Normal or Warning.'),
    column('Reason', 'string', 'Short, machine-understandable reason for the event.'),
    column('Object', 'string', 'The object this event is about.'),
    wide('Subobject', 'string', 'The part of the object the event is about (involvedObject.fieldPath).'),
    wide('Source', 'string', 'The component (and host) that reported the event.'),
    column('Message', 'string', 'Human-readable description of the event.'),
    wide('First Seen', 'string', 'Time since the event was first observed.'),
    wide('Count', 'integer', 'How many times the event has occurred.'),
    nameColumn(1),
  ],
  cells(ev, { now }) {
    const first =
      parseTime(ev.firstTimestamp) !== undefined ? age(ev.firstTimestamp, now) : age(ev.eventTime, now);
    let last = parseTime(ev.lastTimestamp) !== undefined ? age(ev.lastTimestamp, now) : first;
    let count = num(ev.count);
    const series = ev.series === undefined || ev.series === null ? undefined : rec(ev.series);
    if (series) {
      last = age(series.lastObservedTime, now);
      count = num(series.count);
    } else if (count === 0) {
      // Events from the events.k8s.io API are singletons without a count.
      count = 1;
    }
    return [
      last,
      str(ev.type),
      str(ev.reason),
      eventObject(ev),
      str(rec(ev.involvedObject).fieldPath),
      eventSource(ev),
      str(ev.message).trim(),
      first,
      count,
      str(ev.metadata?.name),
    ];
  },
};
