/**
 * Erasure requests (SPEC "Privacy"), behind a privacy key (scope `privacy`, not the operators'; audited): name the person by profile id or by
 * one of their identities (identity-ref.ts: graph key, the value as typed, or type and match key,
 * in the body so values stay out of URLs and access logs). Answers with a receipt (request id,
 * profiles, identities by type, what was erased where); a second request for the same person
 * answers with the same receipt; 404 when nobody knows them; 400 naming the bad field.
 */
import { Body, Controller, HttpCode, Inject, NotFoundException, Post, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import type { IdentityConfig } from '../config';
import { ErasureRepository } from '../privacy/erasure.repository';
import { ErasureService, type ErasureReceipt } from '../privacy/erasure.service';
import { ResolutionService } from '../resolution/resolution.service';
import { IDENTITY_CONFIG } from '../tokens';
import { ApiKeyGuard, Audited, RequireScope } from '@cdp/nest-platform';
import { erasureTarget } from './audit-targets';
import { graphKeyOf, identityRefSchema } from './identity-ref';
import { parseBody } from './parse-body';

@Controller('v1/privacy')
@UseGuards(ApiKeyGuard)
@RequireScope('privacy')
export class ErasureController {
  private readonly erasureBody;

  constructor(
    private readonly erasure: ErasureService,
    private readonly repo: ErasureRepository,
    private readonly resolution: ResolutionService,
    @Inject(IDENTITY_CONFIG) config: IdentityConfig,
  ) {
    this.erasureBody = z
      .object({ profileId: z.string().min(1).max(128).optional(), identity: identityRefSchema({ defaultPhoneRegion: config.DEFAULT_PHONE_REGION }).optional() })
      .strict()
      .refine((b) => (b.profileId === undefined) !== (b.identity === undefined), 'give exactly one of profileId or identity');
  }

  @Post('erasures')
  @Audited('privacy.erasure', erasureTarget)
  @HttpCode(200)
  async erase(@Body() body: unknown): Promise<ErasureReceipt> {
    const request = parseBody(this.erasureBody, body);
    const ref = request.identity;
    const identityKey = ref ? graphKeyOf(ref, (type, matchKey) => this.resolution.keyer.pseudonymise(type, matchKey)) : undefined;
    const profileId = identityKey !== undefined ? await this.repo.profileOf(identityKey) : request.profileId;
    // An identity the graph no longer holds may have been erased already: its receipt answers.
    const receipt = profileId !== undefined ? await this.erasure.erase(profileId) : await this.erasure.earlier({ identityKey: identityKey! });
    if (!receipt) throw new NotFoundException({ error: 'not_found', field: ref ? 'identity' : 'profileId', message: 'no such profile in the graph' });
    return receipt;
  }
}
