/**
 * Collector API: POST one event or a batch for a channel. A single invalid event gets a 400 that
 * names each offending field. A batch is validated as a whole first: valid events are published,
 * invalid ones are reported per index (207), so nothing is half-applied without saying so. An
 * event id that was already published is answered as a duplicate and not published again.
 */
import { BadRequestException, Body, Controller, ConflictException, ForbiddenException, Inject, NotFoundException, Param, PayloadTooLargeException, Post, Req, Res, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { has } from '@cdp/config';
import { isChannel, type CanonicalEvent, type Channel } from '@cdp/contracts';
import { describeError } from '@cdp/kafka';
import { ApiKeyGuard, type KeyedRequest } from '@cdp/nest-platform';
import type { IngestionConfig } from '../config';
import { IngestService, type PublishOutcome } from '../domain/ingest.service';
import type { FieldError, Validated } from '../domain/raw-event';
import { INGESTION_CONFIG } from '../tokens';

export interface BatchResult {
  readonly index: number;
  /** in_flight: the same id is being published by a concurrent request; post it again to learn the outcome. */
  readonly status: 'accepted' | 'duplicate' | 'in_flight' | 'rejected';
  readonly eventId?: string;
  readonly errors?: readonly FieldError[];
}

@Controller('v1/channels/:channel/events')
@UseGuards(ApiKeyGuard)
export class EventsController {
  constructor(
    private readonly ingest: IngestService,
    @Inject(INGESTION_CONFIG) private readonly config: IngestionConfig,
  ) {}

  /** The channel of the path: served here (else 404) and one the key may post to (else 403). */
  private channel(name: string, req: KeyedRequest): Channel {
    if (!isChannel(name) || !this.config.CHANNELS.includes(name)) {
      throw new NotFoundException({ error: 'unknown_channel', field: 'channel', message: `channel ${name} is not served here` });
    }
    if (!req.apiKey || !has(req.apiKey, 'channels', name)) {
      throw new ForbiddenException({ error: 'forbidden', field: 'channel', message: `key "${req.apiKeyId ?? 'none'}" may not post to channel ${name}` });
    }
    return name;
  }

  /** Who sent it, and whether that source may assert primary identities and consent (docs/security.md). */
  private origin(req: KeyedRequest): { source: string; trusted: boolean } {
    return { source: req.apiKey?.id ?? 'unknown', trusted: req.apiKey !== undefined && has(req.apiKey, 'trust', 'server') };
  }

  private tooLarge(event: unknown): FieldError | undefined {
    const size = Buffer.byteLength(JSON.stringify(event) ?? '');
    return size > this.config.MAX_EVENT_BYTES ? { field: '(event)', message: `event of ${size} bytes is larger than ${this.config.MAX_EVENT_BYTES} bytes` } : undefined;
  }

  private async publish(events: CanonicalEvent[], channel: Channel): Promise<PublishOutcome[]> {
    try {
      return await this.ingest.publish(events, channel, 'http');
    } catch (err) {
      throw new ServiceUnavailableException({
        error: 'publish_failed',
        message: `events could not be published (${describeError(err)}); some may have been: post them again with the same eventIds`,
      });
    }
  }

  @Post()
  async single(@Param('channel') name: string, @Body() body: unknown, @Req() req: KeyedRequest, @Res() res: Response): Promise<void> {
    const channel = this.channel(name, req);
    const oversized = this.tooLarge(body);
    if (oversized) {
      this.ingest.countRejected(channel, 'http');
      throw new PayloadTooLargeException({ error: 'payload_too_large', errors: [oversized] });
    }
    const prepared = this.ingest.prepare(body, { channel, ...this.origin(req), receivedAt: Date.now() }, 'http');
    if (!prepared.ok) throw new BadRequestException({ error: 'invalid_event', errors: prepared.errors });
    const [outcome] = await this.publish([prepared.value], channel);
    const eventId = prepared.value.eventId;
    if (outcome === 'in-flight') throw new ConflictException({ error: 'duplicate_in_flight', eventId, message: 'an event with this id is being published right now; retry later' });
    if (outcome === 'duplicate') res.status(200).json({ eventId, status: 'duplicate' });
    else res.status(202).json({ eventId, status: 'accepted' });
  }

  @Post('batch')
  async batch(@Param('channel') name: string, @Body() body: unknown, @Req() req: KeyedRequest, @Res() res: Response): Promise<void> {
    const channel = this.channel(name, req);
    const events = (body as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) throw new BadRequestException({ error: 'invalid_batch', errors: [{ field: 'events', message: 'must be an array' }] });
    if (events.length === 0 || events.length > this.config.MAX_BATCH_SIZE) {
      throw new BadRequestException({ error: 'invalid_batch', errors: [{ field: 'events', message: `must hold 1 to ${this.config.MAX_BATCH_SIZE} events` }] });
    }
    const receivedAt = Date.now();
    const prepared: Validated<CanonicalEvent>[] = events.map((e) => {
      const oversized = this.tooLarge(e);
      if (oversized) {
        this.ingest.countRejected(channel, 'http');
        return { ok: false, errors: [oversized] };
      }
      return this.ingest.prepare(e, { channel, ...this.origin(req), receivedAt }, 'http');
    });
    const valid = prepared.flatMap((p) => (p.ok ? [p.value] : []));
    const outcomes = valid.length ? await this.publish(valid, channel) : [];
    let next = 0;
    const results: BatchResult[] = prepared.map((p, index) => {
      if (!p.ok) return { index, status: 'rejected', errors: p.errors.map((e) => ({ ...e, field: `events.${index}.${e.field}` })) };
      const outcome = outcomes[next++];
      return { index, status: outcome === 'published' ? 'accepted' : outcome === 'duplicate' ? 'duplicate' : 'in_flight', eventId: p.value.eventId };
    });
    const count = (s: BatchResult['status']) => results.filter((r) => r.status === s).length;
    const rejected = count('rejected');
    const inFlight = count('in_flight');
    res.status(rejected || inFlight ? 207 : 202).json({ accepted: count('accepted'), duplicates: count('duplicate'), ...(inFlight ? { inFlight } : {}), rejected, results });
  }
}
