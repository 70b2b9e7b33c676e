/** The consumer loop's metrics, one set per process registry. */
import { counter, gauge, histogram, type Registry } from '@cdp/observability';

export function consumerMetrics(r: Registry) {
  return {
    records: counter(r, 'cdp_consumer_records_total', 'Records handled, by outcome', ['topic', 'group', 'result']),
    duration: histogram(r, 'cdp_consumer_handle_seconds', 'Time to handle one record incl. side effects', ['topic', 'group']),
    retries: counter(r, 'cdp_consumer_retries_total', 'Handler or commit retries', ['topic', 'group']),
    deadLetters: counter(r, 'cdp_dead_letters_total', 'Records sent to the dead-letter topic', ['topic', 'group', 'step']),
    dlqFailures: counter(r, 'cdp_dead_letter_write_failures_total', 'Failed attempts to commit a group holding a dead letter', ['topic', 'group']),
    lag: gauge(r, 'cdp_consumer_lag', 'Records behind the partition end', ['topic', 'partition', 'group']),
    crashes: counter(r, 'cdp_consumer_crashes_total', 'Consumer crashes reported by kafkajs', ['group']),
    publishFailures: counter(r, 'cdp_consumer_publish_failures_total', 'Failed attempts to commit outputs and offsets', ['topic', 'group']),
    // Records per commit and commit time: what a transaction costs and how well it is amortised.
    commitRecords: histogram(r, 'cdp_consumer_commit_records', 'Input records made done by one commit, by kind (transaction, plain group commit, publish under at-least-once, filtered: past markers only, covered: past records the restored state already holds)', ['topic', 'group', 'kind'], [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]),
    commitSeconds: histogram(r, 'cdp_consumer_commit_seconds', 'Time to commit a group of records (outputs, dead letters and offset), by kind', ['topic', 'group', 'kind']),
    // Co-partitioned loops with state: how long a task taken over waits for its state.
    restoreSeconds: histogram(r, 'cdp_task_restore_seconds', 'Time to restore the state of a task taken over, by source (local: the copy on disk was current; changelog: read back)', ['group', 'from'], [0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300]),
    lastRestore: gauge(r, 'cdp_task_last_restore', 'The last restore from its changelog of each task on this instance: seconds, and records read', ['group', 'task', 'what']),
    shutdownFailures: counter(r, 'cdp_consumer_shutdown_failures_total', 'Steps of a consumer loop\'s stop that failed (leaving the group while the broker is unreachable); the stop went on', ['group', 'step']),
    lost: counter(r, 'cdp_consumer_partitions_lost_total', 'Commits refused because another member took the partition over (fenced)', ['topic', 'group']),
  };
}

export type ConsumerMetrics = ReturnType<typeof consumerMetrics>;
