/**
 * Profile read API (a reader key with the route's scope; every request leaves an audit record): by id (following merges), by identity, a paged list
 * (cursor, or offset for small lists), an export of everything held about one person, and a live
 * stream of one profile's updates over server-sent events. Any instance answers: what is not held
 * here is asked of the instance that owns it (task-router.ts; a stream is relayed, sse-relay.ts);
 * the list and the lookup gather from every owner. A task being restored answers 503 `restoring`.
 */
import { BadRequestException, Body, Controller, Get, HttpCode, HttpException, Inject, NotFoundException, Param, Post, Query, Req, ServiceUnavailableException, Sse, UseGuards, UseInterceptors, type MessageEvent } from '@nestjs/common';
import type { Request } from 'express';
import { concat, filter, map, of, takeUntil, takeWhile, type Observable } from 'rxjs';
import type { Profile } from '@cdp/contracts';
import { ApiKeyGuard, Audited, METRICS_REGISTRY, presentedSecret, RequireScope, SseLimitInterceptor } from '@cdp/nest-platform';
import { normaliseIdentityQuery } from '@cdp/normalisation';
import { counter, type Registry } from '@cdp/observability';
import type { ProfilesConfig } from '../config';
import { ProfileUpdatesHub } from '../domain/profile-updates-hub';
import type { ListPage } from '../store/lmdb-profile-store';
import { ProfileStore } from '../store/profile-store';
import { PROFILES_CONFIG } from '../tokens';
import { relayStream } from './sse-relay';
import { withHeartbeat } from './stream-heartbeat';
import { ROUTED_HEADER, TaskRouter } from './task-router';

const restoring = (task: number) => new ServiceUnavailableException({ error: 'restoring', message: `the profiles of partition ${task} are being restored; try again shortly` });
const noOwner = (task: number) => new ServiceUnavailableException({ error: 'rebalancing', message: `partition ${task} has no owner right now (a rebalance is on); try again shortly` });
const routed = (req: Request) => req.header(ROUTED_HEADER) === '1';
const keyOf = (req: Request) => presentedSecret(req.headers) ?? '';

const invalid = (field: string, message: string) => new BadRequestException({ error: 'invalid_query', field, message });

/** Heartbeat intervals without a byte from the owner after which a relayed stream is taken for dead. */
const RELAY_IDLE_HEARTBEATS = 3;

@Controller('v1/profiles')
@UseGuards(ApiKeyGuard)
export class ProfilesController {
  private readonly silentRelays;

  constructor(
    private readonly store: ProfileStore,
    private readonly hub: ProfileUpdatesHub,
    private readonly router: TaskRouter,
    @Inject(PROFILES_CONFIG) private readonly config: ProfilesConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.silentRelays = counter(registry, 'cdp_profile_stream_relays_silent_total', `Relayed profile streams ended because the owner sent nothing for ${RELAY_IDLE_HEARTBEATS} heartbeat intervals`);
  }

  @Get()
  @RequireScope('read')
  @Audited('profile.list')
  async list(@Req() req: Request, @Query('cursor') cursor?: string, @Query('offset') offset?: string, @Query('limit') limit = '50'): Promise<ListPage & { offset?: number }> {
    const l = Number(limit);
    if (!Number.isInteger(l) || l < 1 || l > 500) throw invalid('limit', 'must be 1 to 500');
    if (cursor !== undefined && offset !== undefined) throw invalid('cursor', 'give cursor or offset, not both');
    let o: number | undefined;
    if (offset !== undefined) {
      o = Number(offset);
      if (!Number.isInteger(o) || o < 0) throw invalid('offset', 'must be a non-negative integer');
    }
    if (cursor === '') throw invalid('cursor', 'must not be empty');
    if (routed(req)) {
      // One owner's share for a gathering instance: its first offset+limit, merged there.
      const restoringTask = this.store.ownedTasks.find((t) => this.store.taskStatus(t) !== 'ready');
      if (restoringTask !== undefined) throw restoring(restoringTask);
      return this.store.db.list(l + (o ?? 0), cursor === undefined ? {} : { cursor }, this.store.readyTasks);
    }
    return this.gatherList(l, o, cursor, keyOf(req));
  }

  /** Every owner's first page from the same cursor, merged in id order: the first `limit` are the page. */
  private async gatherList(limit: number, offset: number | undefined, cursor: string | undefined, apiKey: string): Promise<ListPage & { offset?: number }> {
    const local = this.store.readyTasks;
    const { urls, unowned } = await this.router.others(this.store.taskCount, local);
    if (unowned.length > 0) throw this.unavailable(unowned[0]!);
    const want = limit + (offset ?? 0);
    const query = `?limit=${want}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const remote = await Promise.all(urls.map((url) => this.router.forward(url, `/v1/profiles${query}`, apiKey)));
    const failed = remote.find((p) => p.status !== 200);
    if (failed) throw new HttpException(failed.body ?? { error: 'upstream', message: 'an owner did not answer' }, failed.status >= 500 ? 503 : failed.status);
    const pages = [...(local.length > 0 ? [this.store.db.list(want, cursor === undefined ? {} : { cursor }, local)] : []), ...remote.map((p) => p.body as ListPage)];
    const all = pages.flatMap((p) => p.items).sort((a, b) => (a.profileId < b.profileId ? -1 : a.profileId > b.profileId ? 1 : 0));
    const more = all.length > want || pages.some((p) => p.nextCursor !== null);
    const items = all.slice(offset ?? 0, (offset ?? 0) + limit);
    const total = pages.reduce((sum, p) => sum + p.total, 0);
    const nextCursor = more && items.length === limit ? items[items.length - 1]!.profileId : null;
    return { ...(offset === undefined ? {} : { offset }), total, items, nextCursor };
  }

  /** By identity in the query string; kept for simple clients, but the value lands in access logs. */
  @Get('lookup')
  @RequireScope('lookup')
  @Audited('profile.lookup')
  lookup(@Req() req: Request, @Query('type') type?: string, @Query('value') value?: string, @Query('namespace') namespace?: string): Promise<Profile> {
    return this.findByIdentity({ type, value, namespace }, req);
  }

  /** By identity in a JSON body `{type, value, namespace?}`: keeps the identity out of URLs and proxy logs. */
  @Post('lookup')
  @HttpCode(200)
  @RequireScope('lookup')
  @Audited('profile.lookup')
  lookupByBody(@Req() req: Request, @Body() body: unknown): Promise<Profile> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('(body)', 'must be a JSON object {type, value, namespace?}');
    const { type, value, namespace, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw invalid(unknown, 'unknown field');
    return this.findByIdentity({ type, value, namespace }, req);
  }

  /**
   * The value as a person types it, normalised exactly as ingestion normalised what the profile
   * stores (libs/normalisation), so `ANN@Brand.com` and `020 7946 0444` find what was stored.
   */
  private async findByIdentity(raw: { type: unknown; value: unknown; namespace: unknown }, req: Request): Promise<Profile> {
    const query = normaliseIdentityQuery(raw, { defaultPhoneRegion: this.config.DEFAULT_PHONE_REGION });
    if (!query.ok) throw invalid(query.field, query.message);
    const { type, value } = query.identity;
    const found = this.store.db.findByIdentity(type, value);
    // A profile of a task held here but no longer owned is a stale copy: its owner answers.
    if (found && this.store.taskStatus(this.store.taskOf(found.profileId)) === 'ready') return found;
    if (!routed(req)) {
      const { urls } = await this.router.others(this.store.taskCount, this.store.readyTasks);
      const answers = await Promise.all(urls.map((url) => this.router.forward(url, '/v1/profiles/lookup', keyOf(req), { type, value })));
      const hit = answers.find((a) => a.status === 200);
      if (hit) return hit.body as Profile;
      const unavailable = answers.find((a) => a.status === 503);
      if (unavailable) throw new HttpException(unavailable.body ?? { error: 'restoring' }, 503);
    }
    const restoringTask = this.store.ownedTasks.find((t) => this.store.taskStatus(t) === 'restoring');
    if (restoringTask !== undefined) throw restoring(restoringTask);
    throw new NotFoundException({ error: 'not_found', message: 'no profile holds that identity' });
  }

  /** 503 for a task that cannot be answered now: restoring here, or owned by nobody yet. */
  private unavailable(task: number): ServiceUnavailableException {
    return this.store.taskStatus(task) === 'restoring' ? restoring(task) : noOwner(task);
  }

  /**
   * Where one id's state lives: here when its task is ready (following merges into ids of other
   * tasks), else with the owner of its task. Throws the 503s of a task that cannot answer now.
   */
  private async locate(profileId: string, req: Request): Promise<{ at: 'here'; id: string; task: number } | { at: 'owner'; id: string; url: string }> {
    let id = profileId;
    for (let hops = 0; hops < 20; hops++) {
      const task = this.store.taskOf(id);
      const status = this.store.taskStatus(task);
      if (status === 'restoring') throw restoring(task);
      if (status === 'ready') {
        const alias = this.store.db.reader.aliasOf(id);
        if (alias !== undefined && alias !== id && this.store.taskStatus(this.store.taskOf(alias)) !== 'ready') {
          id = alias;
          continue;
        }
        return { at: 'here', id, task };
      }
      if (routed(req)) throw new ServiceUnavailableException({ error: 'not_owner', message: `partition ${task} is not held here (the ownership map moved); try again` });
      const url = await this.router.ownerOf(task);
      if (!url) throw noOwner(task);
      return { at: 'owner', id, url };
    }
    throw new NotFoundException({ error: 'not_found', field: 'profileId', message: 'no such profile' });
  }

  /** Answers for one id from where its state lives (locate). */
  private async fromOwner<T>(profileId: string, req: Request, suffix: string, local: (id: string) => T | undefined): Promise<T> {
    const where = await this.locate(profileId, req);
    if (where.at === 'here') {
      const found = local(where.id);
      if (found === undefined) throw new NotFoundException({ error: 'not_found', field: 'profileId', message: 'no such profile' });
      return found;
    }
    const answer = await this.router.forward(where.url, `/v1/profiles/${encodeURIComponent(where.id)}${suffix}`, keyOf(req));
    if (answer.status !== 200) throw new HttpException(answer.body ?? { error: 'upstream' }, answer.status);
    return answer.body as T;
  }

  @Get(':profileId')
  @RequireScope('read')
  @Audited('profile.read')
  byId(@Req() req: Request, @Param('profileId') profileId: string): Promise<Profile> {
    return this.fromOwner(profileId, req, '', (id) => this.store.db.profile(id));
  }

  /**
   * Everything held about the person: the profile, the recent events it is built from, and how many
   * older events were folded into it and over which time range (`foldedEvents`); follows merges.
   */
  @Get(':profileId/export')
  @RequireScope('export')
  @Audited('profile.export')
  export(@Req() req: Request, @Param('profileId') profileId: string): Promise<unknown> {
    return this.fromOwner(profileId, req, '/export', (id) => {
      const found = this.store.db.exportOf(id);
      return found ? { exportedAt: new Date().toISOString(), ...found } : undefined;
    });
  }

  /**
   * The current profile first (if any), then every committed change; follows merges. Served by
   * the owner of the profile's task: another instance relays the owner's stream. A stream ends
   * when its task leaves this instance or the profile is merged into one held elsewhere, and a
   * relay when the owner falls silent; the client's EventSource reconnects and lands on the new
   * owner. A heartbeat comment keeps a quiet stream visibly alive (stream-heartbeat.ts).
   */
  @Sse(':profileId/stream')
  @RequireScope('stream')
  @Audited('profile.stream')
  @UseInterceptors(SseLimitInterceptor)
  async stream(@Req() req: Request, @Param('profileId') profileId: string): Promise<Observable<MessageEvent>> {
    const where = await this.locate(profileId, req);
    const beatMs = this.config.PROFILES_STREAM_HEARTBEAT_MS;
    if (where.at === 'here') return withHeartbeat(this.localStream(where.id), beatMs);
    const opened = await this.router.openStream(where.url, `/v1/profiles/${encodeURIComponent(where.id)}/stream`, keyOf(req));
    if (!opened.stream) throw new HttpException(opened.body ?? { error: 'upstream' }, opened.status);
    // The owner beats too (this instance runs the same config): its silence means it is gone.
    const relayed = relayStream(opened.stream, opened.abort, { idleMs: beatMs * RELAY_IDLE_HEARTBEATS, onIdle: () => this.silentRelays.inc() });
    return withHeartbeat(relayed, beatMs);
  }

  private localStream(profileId: string): Observable<MessageEvent> {
    const current = this.store.db.profile(profileId);
    // Updates are emitted once published, which can be just after the snapshot was read: never
    // send a version of the same profile twice or go backwards.
    const sent = new Map<string, number>(current ? [[current.profileId, current.version]] : []);
    // The task that holds the stream's profile now (a merge can move it to another task held here).
    const gone = this.store.released.pipe(filter((t) => t === this.store.taskOf(this.store.db.canonical(profileId))));
    const updates = this.hub.changes.pipe(
      filter((c) => (c.kind === 'update' ? c.profile.profileId === this.store.db.canonical(profileId) : c.profileId === profileId)),
      filter((c) => {
        if (c.kind === 'removed') return sent.delete(c.profileId) || true;
        if ((sent.get(c.profile.profileId) ?? -1) >= c.profile.version) return false;
        sent.set(c.profile.profileId, c.profile.version);
        return true;
      }),
      // Merged into a profile whose task is held elsewhere: its updates never pass here.
      takeWhile((c) => !(c.kind === 'removed' && c.survivorId !== null && this.store.taskStatus(this.store.taskOf(c.survivorId)) !== 'ready'), true),
      map((c): MessageEvent => (c.kind === 'update' ? { type: 'profile', id: String(c.profile.version), data: c.profile } : { type: 'removed', data: { profileId: c.profileId, survivorId: c.survivorId } })),
      takeUntil(gone),
    );
    return current ? concat(of<MessageEvent>({ type: 'profile', id: String(current.version), data: current }), updates) : updates;
  }
}
