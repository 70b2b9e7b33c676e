import { janitorCoverage } from '@cdp/nest-platform';
import { METRICS_GROUP } from '../domain/kpi.service';
import { KpiConsumer } from './kpi.consumer';
import { kpiHandoverTopic } from './kpi-topics';

describe('the erasure janitor and the metrics group', () => {
  it('every janitored topic the metrics service consumes waits for its group (identity changes and dead letters hold no personal data)', () => {
    expect(janitorCoverage(KpiConsumer, METRICS_GROUP, [kpiHandoverTopic])).toEqual({ janitored: ['cdp.events.resolved.v1', 'cdp.kpi.handover.v1'], unlisted: [] });
  });
});
