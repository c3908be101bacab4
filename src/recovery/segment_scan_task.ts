// A piscina task: CRC-scans one whole CommitLog segment and returns what recovery needs from it,
// so a full recovery can check several segments at once (src/recovery/parallel_scan.ts). The
// scan is SegmentScanner's, exactly as the sequential recovery runs it; only the per-record
// work is summarised (queue offset maxima, last store time) to keep the reply small.

import type { StorageSpec } from '../io/storage.js';
import type { Storage } from '../io/storage.js';
import { createStorage } from '../io/storage_fs.js';
import { type QueueOffsetEntry, QueueOffsetTable, takesQueueOffset } from './queue_offset_table.js';
import { type ScanStop, SegmentScanner } from './segment_scanner.js';

export interface SegmentScanTask {
  path: string;
  startOffset: number;
  segmentSizeBytes: number;
  verifyCrc: boolean;
  /** forceVerifyPropCRC: every record must carry a matching appended CRC. */
  requireRecordCrc?: boolean | undefined;
  storage: StorageSpec | undefined;
}

export interface SegmentScanSummary {
  startOffset: number;
  /** Segment-relative position where the scan stopped, and why. */
  endPosition: number;
  stop: ScanStop;
  scannedBytes: number;
  recordCount: number;
  /** Store time of the last valid record, 0 if none. */
  lastStoreTimestamp: number;
  /** Next queue offset per queue, over the records that take one. */
  queueOffsets: QueueOffsetEntry[];
}

let storagePromise: Promise<Storage> | null = null;

export default async function scanSegment(task: SegmentScanTask): Promise<SegmentScanSummary> {
  storagePromise ??= createStorage(task.storage);
  const storage = await storagePromise;
  const file = storage.open(task.path, false);
  try {
    const scanner = new SegmentScanner(storage, file, task.startOffset, task.segmentSizeBytes, task.requireRecordCrc === true);
    const table = new QueueOffsetTable();
    let recordCount = 0;
    let lastStoreTimestamp = 0;
    const result = scanner.scan(0, task.verifyCrc, (record) => {
      recordCount += 1;
      lastStoreTimestamp = record.storeTimestamp;
      if (takesQueueOffset(record.sysFlag)) table.observe(record.topic, record.queueId, record.queueOffset);
    });
    return {
      startOffset: task.startOffset,
      endPosition: result.endPosition,
      stop: result.stop,
      scannedBytes: scanner.scannedBytes,
      recordCount,
      lastStoreTimestamp,
      queueOffsets: table.entries(),
    };
  } finally {
    storage.close(file);
  }
}
