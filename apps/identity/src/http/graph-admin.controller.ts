/**
 * Operator API of the identity graph (a key with scope `operator`; every request audited): why are two identities in one profile, remove
 * an identity, cut a link, quarantine or release an identity. Identities are named as identity-ref.ts
 * says (graph key, the value as typed, or type and match key), in request bodies only, so values
 * never reach URLs or access logs. Changes are published on the identity changes topic like any other.
 */
import { Body, Controller, Delete, HttpCode, Inject, NotFoundException, Param, Post, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import type { IdentityConfig } from '../config';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { ResolutionService } from '../resolution/resolution.service';
import { IDENTITY_CONFIG } from '../tokens';
import { ApiKeyGuard, Audited, RequireScope } from '@cdp/nest-platform';
import { identityTarget } from './audit-targets';
import { graphKeyOf, identityRefSchema, type IdentityRef } from './identity-ref';
import { parseBody } from './parse-body';

@Controller('v1/graph')
@UseGuards(ApiKeyGuard)
@RequireScope('operator')
export class GraphAdminController {
  private readonly pairBody;
  private readonly oneBody;

  constructor(
    private readonly graph: IdentityGraphRepository,
    private readonly resolution: ResolutionService,
    @Inject(IDENTITY_CONFIG) config: IdentityConfig,
  ) {
    const ref = identityRefSchema({ defaultPhoneRegion: config.DEFAULT_PHONE_REGION });
    this.pairBody = z.object({ a: ref, b: ref }).strict();
    this.oneBody = z.object({ identity: ref }).strict();
  }

  private keyOf(ref: IdentityRef): string {
    return graphKeyOf(ref, (type, matchKey) => this.resolution.keyer.pseudonymise(type, matchKey));
  }

  /** The chain of evidence (shortest path of active links) that puts two identities in one profile. */
  @Post('why')
  @Audited('graph.why', identityTarget)
  @HttpCode(200)
  async why(@Body() body: unknown): Promise<unknown> {
    const { a, b } = parseBody(this.pairBody, body);
    const found = await this.graph.explainLink(this.keyOf(a), this.keyOf(b));
    if (!found) throw new NotFoundException({ error: 'not_found', field: 'a|b', message: 'identity not in the graph' });
    return found;
  }

  @Delete('identities/:key')
  @Audited('graph.remove', identityTarget)
  async remove(@Param('key') key: string): Promise<unknown> {
    const { identity } = parseBody(this.oneBody, { identity: { key } });
    return this.act('remove', [this.keyOf(identity)], 'key');
  }

  @Post('identities/remove')
  @Audited('graph.remove', identityTarget)
  @HttpCode(200)
  async removeByValue(@Body() body: unknown): Promise<unknown> {
    return this.act('remove', [this.keyOf(parseBody(this.oneBody, body).identity)], 'identity');
  }

  @Post('unlink')
  @Audited('graph.unlink', identityTarget)
  @HttpCode(200)
  async unlink(@Body() body: unknown): Promise<unknown> {
    const { a, b } = parseBody(this.pairBody, body);
    return this.act('unlink', [this.keyOf(a), this.keyOf(b)], 'a|b');
  }

  @Post('quarantine')
  @Audited('graph.quarantine', identityTarget)
  @HttpCode(200)
  async quarantine(@Body() body: unknown): Promise<unknown> {
    return this.act('quarantine', [this.keyOf(parseBody(this.oneBody, body).identity)], 'identity');
  }

  @Post('release')
  @Audited('graph.release', identityTarget)
  @HttpCode(200)
  async release(@Body() body: unknown): Promise<unknown> {
    return this.act('release', [this.keyOf(parseBody(this.oneBody, body).identity)], 'identity');
  }

  private async act(action: 'remove' | 'unlink' | 'quarantine' | 'release', keys: string[], field: string): Promise<unknown> {
    const result = await this.resolution.operate(action, keys);
    if (!result) throw new NotFoundException({ error: 'not_found', field, message: action === 'unlink' ? 'no link between these identities' : 'identity not in the graph' });
    return { action, changes: result.changes };
  }
}
