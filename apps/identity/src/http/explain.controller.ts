/**
 * "What does this profile consist of?", behind an operator or privacy key (audited): identities by key
 * prefix only (enough to tell them apart and to match the logs; a full key would let anyone who
 * reads the answer test guesses against the graph offline, were the HMAC key ever known) with the
 * evidence for each link, the B2B accounts it is placed in and its linked-but-separate profiles
 * (avatar, household).
 */
import { Controller, Get, NotFoundException, Param, UseGuards } from '@nestjs/common';
import { RelationsRepository } from '../relations/relations.repository';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { ApiKeyGuard, Audited, RequireScope } from '@cdp/nest-platform';

@Controller('v1/graph/profiles')
@UseGuards(ApiKeyGuard)
@RequireScope('operator', 'privacy')
export class ExplainController {
  constructor(
    private readonly graph: IdentityGraphRepository,
    private readonly relations: RelationsRepository,
  ) {}

  @Get(':profileId')
  @Audited('graph.explain')
  async profile(@Param('profileId') profileId: string): Promise<unknown> {
    const found = await this.graph.explainProfile(profileId);
    if (!found) throw new NotFoundException({ error: 'not_found', field: 'profileId', message: 'no such profile in the graph' });
    return { ...found, ...(await this.relations.relationsOf(found.profileId)) };
  }
}
