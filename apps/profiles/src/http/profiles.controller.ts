/**
 * Profile read API (a reader key with the route's scope; every request leaves an audit record): by id (following merges), by identity, a paged list
 * (cursor, or offset for small lists), an export of everything held about one person, and a live
 * stream of one profile's updates over server-sent events.
 */
import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, Sse, UseGuards, UseInterceptors, type MessageEvent } from '@nestjs/common';
import { concat, filter, map, of, type Observable } from 'rxjs';
import type { Profile } from '@cdp/contracts';
import { ApiKeyGuard, Audited, RequireScope, SseLimitInterceptor } from '@cdp/nest-platform';
import { normaliseIdentityQuery } from '@cdp/normalisation';
import type { ProfilesConfig } from '../config';
import { ProfileUpdatesHub } from '../domain/profile-updates-hub';
import type { ListPage } from '../store/lmdb-profile-store';
import { ProfileStore } from '../store/profile-store';
import { PROFILES_CONFIG } from '../tokens';

const invalid = (field: string, message: string) => new BadRequestException({ error: 'invalid_query', field, message });

@Controller('v1/profiles')
@UseGuards(ApiKeyGuard)
export class ProfilesController {
  constructor(
    private readonly store: ProfileStore,
    private readonly hub: ProfileUpdatesHub,
    @Inject(PROFILES_CONFIG) private readonly config: ProfilesConfig,
  ) {}

  @Get()
  @RequireScope('read')
  @Audited('profile.list')
  list(@Query('cursor') cursor?: string, @Query('offset') offset?: string, @Query('limit') limit = '50'): ListPage & { offset?: number } {
    const l = Number(limit);
    if (!Number.isInteger(l) || l < 1 || l > 500) throw invalid('limit', 'must be 1 to 500');
    if (cursor !== undefined && offset !== undefined) throw invalid('cursor', 'give cursor or offset, not both');
    if (offset !== undefined) {
      const o = Number(offset);
      if (!Number.isInteger(o) || o < 0) throw invalid('offset', 'must be a non-negative integer');
      return { offset: o, ...this.store.db.list(l, { offset: o }) };
    }
    if (cursor === '') throw invalid('cursor', 'must not be empty');
    return this.store.db.list(l, cursor === undefined ? {} : { cursor });
  }

  /** By identity in the query string; kept for simple clients, but the value lands in access logs. */
  @Get('lookup')
  @RequireScope('lookup')
  @Audited('profile.lookup')
  lookup(@Query('type') type?: string, @Query('value') value?: string, @Query('namespace') namespace?: string): Profile {
    return this.findByIdentity({ type, value, namespace });
  }

  /** By identity in a JSON body `{type, value, namespace?}`: keeps the identity out of URLs and proxy logs. */
  @Post('lookup')
  @HttpCode(200)
  @RequireScope('lookup')
  @Audited('profile.lookup')
  lookupByBody(@Body() body: unknown): Profile {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('(body)', 'must be a JSON object {type, value, namespace?}');
    const { type, value, namespace, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw invalid(unknown, 'unknown field');
    return this.findByIdentity({ type, value, namespace });
  }

  /**
   * The value as a person types it, normalised exactly as ingestion normalised what the profile
   * stores (libs/normalisation), so `ANN@Brand.com` and `020 7946 0444` find what was stored.
   */
  private findByIdentity(raw: { type: unknown; value: unknown; namespace: unknown }): Profile {
    const query = normaliseIdentityQuery(raw, { defaultPhoneRegion: this.config.DEFAULT_PHONE_REGION });
    if (!query.ok) throw invalid(query.field, query.message);
    const found = this.store.db.findByIdentity(query.identity.type, query.identity.value);
    if (!found) throw new NotFoundException({ error: 'not_found', message: 'no profile holds that identity' });
    return found;
  }

  @Get(':profileId')
  @RequireScope('read')
  @Audited('profile.read')
  byId(@Param('profileId') profileId: string): Profile {
    const found = this.store.db.profile(profileId);
    if (!found) throw new NotFoundException({ error: 'not_found', field: 'profileId', message: 'no such profile' });
    return found;
  }

  /**
   * Everything held about the person: the profile, the recent events it is built from, and how many
   * older events were folded into it and over which time range (`foldedEvents`); follows merges.
   */
  @Get(':profileId/export')
  @RequireScope('export')
  @Audited('profile.export')
  export(@Param('profileId') profileId: string): unknown {
    const found = this.store.db.exportOf(profileId);
    if (!found) throw new NotFoundException({ error: 'not_found', field: 'profileId', message: 'no such profile' });
    return { exportedAt: new Date().toISOString(), ...found };
  }

  /** The current profile first (if any), then every committed change; follows merges. */
  @Sse(':profileId/stream')
  @RequireScope('stream')
  @Audited('profile.stream')
  @UseInterceptors(SseLimitInterceptor)
  stream(@Param('profileId') profileId: string): Observable<MessageEvent> {
    const current = this.store.db.profile(profileId);
    // Updates are emitted once published, which can be just after the snapshot was read: never
    // send a version of the same profile twice or go backwards.
    const sent = new Map<string, number>(current ? [[current.profileId, current.version]] : []);
    const updates = this.hub.changes.pipe(
      filter((c) => (c.kind === 'update' ? c.profile.profileId === this.store.db.canonical(profileId) : c.profileId === profileId)),
      filter((c) => {
        if (c.kind === 'removed') return sent.delete(c.profileId) || true;
        if ((sent.get(c.profile.profileId) ?? -1) >= c.profile.version) return false;
        sent.set(c.profile.profileId, c.profile.version);
        return true;
      }),
      map((c): MessageEvent => (c.kind === 'update' ? { type: 'profile', id: String(c.profile.version), data: c.profile } : { type: 'removed', data: { profileId: c.profileId, survivorId: c.survivorId } })),
    );
    return current ? concat(of<MessageEvent>({ type: 'profile', id: String(current.version), data: current }), updates) : updates;
  }
}
