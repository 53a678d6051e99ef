import type { Metric } from '../http/metrics.js';
import { KEPT_REASONS, type CollectCounters } from './collector.js';

/** What /metrics shows of frame collection (the daemon's learning loop adds these families when collecting). */
export interface CollectorReading {
  counters: CollectCounters;
  paused: boolean;
  usage: { files: number; bytes: number };
}

const counter = (name: string, help: string, samples: Metric['samples']): Metric => ({ name, help, type: 'counter', samples });
const gauge = (name: string, help: string, value: number): Metric => ({ name, help, type: 'gauge', samples: [{ value }] });

/** Prometheus families of the collector; counters are process-lifetime totals. */
export function collectorMetrics(r: CollectorReading): Metric[] {
  const c = r.counters;
  return [
    counter('edgecam_collect_kept_total', 'Frames kept for the learning loop, by reason', KEPT_REASONS.map((reason) => ({ value: c.kept[reason], labels: { reason } }))),
    counter('edgecam_collect_duplicates_total', 'Frames not kept because they repeated the last kept one (still scene)', [{ value: c.duplicates }]),
    counter('edgecam_collect_evicted_total', 'Unlabelled frames deleted, oldest first, to stay under the quota', [{ value: c.evicted }]),
    counter('edgecam_collect_busy_total', 'Frames not kept because the disk was slower than the camera (save queue full)', [{ value: c.busy }]),
    counter('edgecam_collect_failed_total', 'Frames that could not be written', [{ value: c.failed }]),
    counter('edgecam_collect_paused_total', 'Times collection paused: disk full, or only labelled frames left at the quota', [
      { value: c.pauses.diskFull, labels: { cause: 'disk-full' } }, { value: c.pauses.quota, labels: { cause: 'quota' } },
    ]),
    gauge('edgecam_collect_paused', 'Collection paused now (1) or collecting (0)', r.paused ? 1 : 0),
    gauge('edgecam_collect_files', 'Frames and sidecars in the collection folder, as the quota counts them', r.usage.files),
    gauge('edgecam_collect_bytes', 'Bytes in the collection folder, as the quota counts them', r.usage.bytes),
  ];
}
