/**
 * Erasure requests (SPEC "Privacy"), behind the operator key: name the person by profile id or by
 * one of their identities (graph key, or type and match key, in the body so values stay out of
 * URLs and access logs). Answers with a receipt (request id, profiles and identity count erased);
 * 404 when the graph does not know them; 400 naming the bad field.
 */
import { Body, Controller, HttpCode, NotFoundException, Post, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { IDENTITY_TYPES } from '@cdp/contracts';
import { ErasureRepository } from '../privacy/erasure.repository';
import { ErasureService, type ErasureReceipt } from '../privacy/erasure.service';
import { ResolutionService } from '../resolution/resolution.service';
import { AdminKeyGuard } from './admin-key.guard';
import { parseBody } from './parse-body';

// Flat optional fields (not a union), so a mistake is reported at its own path, e.g. identity.type.
const identityRef = z
  .object({
    key: z.string().regex(/^[0-9a-f]{64}$/, 'a 64-character hex graph key').optional(),
    type: z.enum(IDENTITY_TYPES).optional(),
    matchKey: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => (r.key !== undefined) !== (r.type !== undefined && r.matchKey !== undefined), 'give either key, or type and matchKey');
const erasureBody = z
  .object({ profileId: z.string().min(1).max(128).optional(), identity: identityRef.optional() })
  .strict()
  .refine((b) => (b.profileId === undefined) !== (b.identity === undefined), 'give exactly one of profileId or identity');

@Controller('v1/privacy')
@UseGuards(AdminKeyGuard)
export class ErasureController {
  constructor(
    private readonly erasure: ErasureService,
    private readonly repo: ErasureRepository,
    private readonly resolution: ResolutionService,
  ) {}

  @Post('erasures')
  @HttpCode(200)
  async erase(@Body() body: unknown): Promise<ErasureReceipt> {
    const request = parseBody(erasureBody, body);
    const ref = request.identity;
    const profileId = ref ? await this.repo.profileOf(ref.key ?? this.resolution.keyer.pseudonymise(ref.type!, ref.matchKey!)) : request.profileId;
    const receipt = profileId === undefined ? undefined : await this.erasure.erase(profileId);
    if (!receipt) throw new NotFoundException({ error: 'not_found', field: ref ? 'identity' : 'profileId', message: 'no such profile in the graph' });
    return receipt;
  }
}
