import { CHANNELS, CONSUMER_GROUPS, rawChannelTopic } from '@cdp/contracts';
import { janitorCoverage } from '@cdp/nest-platform';
import { rawEventsController } from './raw-events.controller';

describe('the erasure janitor and the ingestion group', () => {
  it('every raw channel topic waits for the ingestion group', () => {
    expect(janitorCoverage(rawEventsController(CHANNELS), CONSUMER_GROUPS.ingestion)).toEqual({ janitored: CHANNELS.map((c) => rawChannelTopic(c).name), unlisted: [] });
  });

  it('a group the contracts do not list is named (what makes a service refuse to start)', () => {
    expect(janitorCoverage(rawEventsController(['email']), 'cdp-someone-else').unlisted).toEqual([rawChannelTopic('email').name]);
  });
});
