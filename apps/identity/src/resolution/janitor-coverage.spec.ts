import { CONSUMER_GROUPS } from '@cdp/contracts';
import { janitorCoverage } from '@cdp/nest-platform';
import { ResolutionController } from './resolution.controller';

describe('the erasure janitor and the identity group', () => {
  it('the canonical topic waits for the identity group', () => {
    expect(janitorCoverage(ResolutionController, CONSUMER_GROUPS.identity)).toEqual({ janitored: ['cdp.events.canonical.v1'], unlisted: [] });
  });
});
