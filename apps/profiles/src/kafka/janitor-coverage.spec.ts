import { janitorCoverage } from '@cdp/nest-platform';
import { PROFILES_GROUP } from '../http/task-router';
import { profileHandoverTopic } from './handover-contract';
import { ProfilesConsumer } from './profiles.controller';

describe('the erasure janitor and the profiles group', () => {
  it('every janitored topic the profiles service consumes waits for its group', () => {
    expect(janitorCoverage(ProfilesConsumer, PROFILES_GROUP, [profileHandoverTopic])).toEqual({ janitored: ['cdp.events.resolved.v1', 'cdp.profiles.handover.v1'], unlisted: [] });
  });
});
