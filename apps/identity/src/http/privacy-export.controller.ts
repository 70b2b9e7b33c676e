/**
 * Access requests (SPEC "Privacy": export everything held), behind a privacy key (audited): name
 * the person by profile id or by one of their identities in the body (identity-ref.ts: the value as
 * typed, normalised as ingestion does; never in a URL), get one JSON document of everything the
 * platform holds about them (privacy/person-export.ts). 400 naming the bad field, 404 when the graph
 * does not know them, 503 with the reason when the profiles side cannot be read.
 */
import { Body, Controller, HttpCode, Inject, NotFoundException, Post, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { ApiKeyGuard, Audited, RequireScope, type AuditTarget } from '@cdp/nest-platform';
import type { IdentityConfig } from '../config';
import { PrivacyExportService } from '../privacy/export.service';
import type { PersonExport } from '../privacy/person-export';
import { ResolutionService } from '../resolution/resolution.service';
import { IDENTITY_CONFIG } from '../tokens';
import { identityTarget } from './audit-targets';
import { graphKeyOf, identityRefSchema } from './identity-ref';
import { parseBody } from './parse-body';

/** The exported profile's id (the platform's pseudonym), else the identity type asked for: never a value. */
const exportTarget: AuditTarget = (req, result) => {
  const id = (result as { subject?: { profileId?: unknown } } | undefined)?.subject?.profileId;
  if (typeof id === 'string') return id;
  const asked = (req.body ?? {}) as { profileId?: unknown };
  return typeof asked.profileId === 'string' ? asked.profileId.slice(0, 128) : identityTarget(req, result);
};

@Controller('v1/privacy')
@UseGuards(ApiKeyGuard)
@RequireScope('privacy')
export class PrivacyExportController {
  private readonly exportBody;

  constructor(
    private readonly exports: PrivacyExportService,
    private readonly resolution: ResolutionService,
    @Inject(IDENTITY_CONFIG) config: IdentityConfig,
  ) {
    this.exportBody = z
      .object({ profileId: z.string().min(1).max(128).optional(), identity: identityRefSchema({ defaultPhoneRegion: config.DEFAULT_PHONE_REGION }).optional() })
      .strict()
      .refine((b) => (b.profileId === undefined) !== (b.identity === undefined), 'give exactly one of profileId or identity');
  }

  @Post('exports')
  @Audited('privacy.export', exportTarget)
  @HttpCode(200)
  async export(@Body() body: unknown): Promise<PersonExport> {
    let request;
    try {
      request = parseBody(this.exportBody, body);
    } catch (err) {
      this.exports.rejected();
      throw err;
    }
    const ref = request.identity;
    const field = ref ? 'identity' : 'profileId';
    const profileId = ref ? await this.exports.profileOfKey(graphKeyOf(ref, (type, matchKey) => this.resolution.keyer.pseudonymise(type, matchKey))) : request.profileId;
    const outcome = await this.exports.exportOf(profileId);
    if (outcome.ok) return outcome.export;
    if (outcome.result === 'profiles-unavailable') throw new ServiceUnavailableException({ error: 'profiles_unavailable', message: `the export needs the profile side: ${outcome.reason}` });
    throw new NotFoundException({ error: 'not_found', field, message: 'no such person in the identity graph' });
  }
}
