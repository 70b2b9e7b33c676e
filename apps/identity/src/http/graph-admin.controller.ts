/**
 * Operator API of the identity graph (x-admin-key): why are two identities in one profile, remove
 * an identity, cut a link, quarantine or release an identity. Identities are named by graph key
 * (HMAC) or by type and match key (the normalised value ingestion matched on); values are taken in
 * request bodies only, so they never reach URLs or access logs. Changes are published on the
 * identity changes topic like any other.
 */
import { Body, Controller, Delete, HttpCode, NotFoundException, Param, Post, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { IDENTITY_TYPES } from '@cdp/contracts';
import { IdentityGraphRepository } from '../resolution/identity-graph.repository';
import { ResolutionService } from '../resolution/resolution.service';
import { AdminKeyGuard } from './admin-key.guard';
import { parseBody } from './parse-body';

const identityRef = z.union([
  z.object({ key: z.string().regex(/^[0-9a-f]{64}$/, 'a 64-character hex graph key') }).strict(),
  z.object({ type: z.enum(IDENTITY_TYPES), matchKey: z.string().min(1) }).strict(),
]);
const pairBody = z.object({ a: identityRef, b: identityRef }).strict();
const oneBody = z.object({ identity: identityRef }).strict();

@Controller('v1/graph')
@UseGuards(AdminKeyGuard)
export class GraphAdminController {
  constructor(
    private readonly graph: IdentityGraphRepository,
    private readonly resolution: ResolutionService,
  ) {}

  private keyOf(ref: z.infer<typeof identityRef>): string {
    return 'key' in ref ? ref.key : this.resolution.keyer.pseudonymise(ref.type, ref.matchKey);
  }

  /** The chain of evidence (shortest path of active links) that puts two identities in one profile. */
  @Post('why')
  @HttpCode(200)
  async why(@Body() body: unknown): Promise<unknown> {
    const { a, b } = parseBody(pairBody, body);
    const found = await this.graph.explainLink(this.keyOf(a), this.keyOf(b));
    if (!found) throw new NotFoundException({ error: 'not_found', field: 'a|b', message: 'identity not in the graph' });
    return found;
  }

  @Delete('identities/:key')
  async remove(@Param('key') key: string): Promise<unknown> {
    const { identity } = parseBody(oneBody, { identity: { key } });
    return this.act('remove', [this.keyOf(identity)], 'key');
  }

  @Post('identities/remove')
  @HttpCode(200)
  async removeByValue(@Body() body: unknown): Promise<unknown> {
    return this.act('remove', [this.keyOf(parseBody(oneBody, body).identity)], 'identity');
  }

  @Post('unlink')
  @HttpCode(200)
  async unlink(@Body() body: unknown): Promise<unknown> {
    const { a, b } = parseBody(pairBody, body);
    return this.act('unlink', [this.keyOf(a), this.keyOf(b)], 'a|b');
  }

  @Post('quarantine')
  @HttpCode(200)
  async quarantine(@Body() body: unknown): Promise<unknown> {
    return this.act('quarantine', [this.keyOf(parseBody(oneBody, body).identity)], 'identity');
  }

  @Post('release')
  @HttpCode(200)
  async release(@Body() body: unknown): Promise<unknown> {
    return this.act('release', [this.keyOf(parseBody(oneBody, body).identity)], 'identity');
  }

  private async act(action: 'remove' | 'unlink' | 'quarantine' | 'release', keys: string[], field: string): Promise<unknown> {
    const result = await this.resolution.operate(action, keys);
    if (!result) throw new NotFoundException({ error: 'not_found', field, message: action === 'unlink' ? 'no link between these identities' : 'identity not in the graph' });
    return { action, changes: result.changes };
  }
}
