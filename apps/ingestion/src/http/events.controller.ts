/**
 * Collector API: POST one event or a batch for a channel. A single invalid event gets a 400 that
 * names each offending field. A batch is validated as a whole first: valid events are published,
 * invalid ones are reported per index (207), so nothing is half-applied without saying so.
 */
import { BadRequestException, Body, Controller, HttpCode, Inject, NotFoundException, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isChannel, type CanonicalEvent, type Channel } from '@cdp/contracts';
import type { IngestionConfig } from '../config';
import { IngestService } from '../domain/ingest.service';
import { INGESTION_CONFIG } from '../tokens';
import { ApiKeyGuard } from './api-key.guard';

type SourcedRequest = Request & { sourceId?: string };

@Controller('v1/channels/:channel/events')
@UseGuards(ApiKeyGuard)
export class EventsController {
  constructor(
    private readonly ingest: IngestService,
    @Inject(INGESTION_CONFIG) private readonly config: IngestionConfig,
  ) {}

  private channel(name: string): Channel {
    if (!isChannel(name) || !this.config.CHANNELS.includes(name)) {
      throw new NotFoundException({ error: 'unknown_channel', field: 'channel', message: `channel ${name} is not served here` });
    }
    return name;
  }

  @Post()
  @HttpCode(202)
  async single(@Param('channel') name: string, @Body() body: unknown, @Req() req: SourcedRequest): Promise<{ eventId: string }> {
    const channel = this.channel(name);
    const prepared = this.ingest.prepare(body, { channel, source: req.sourceId ?? 'unknown', receivedAt: Date.now() }, 'http');
    if (!prepared.ok) throw new BadRequestException({ error: 'invalid_event', errors: prepared.errors });
    await this.ingest.publish([prepared.value], channel, 'http');
    return { eventId: prepared.value.eventId };
  }

  @Post('batch')
  async batch(@Param('channel') name: string, @Body() body: unknown, @Req() req: SourcedRequest, @Res() res: Response): Promise<void> {
    const channel = this.channel(name);
    const events = (body as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) throw new BadRequestException({ error: 'invalid_batch', errors: [{ field: 'events', message: 'must be an array' }] });
    if (events.length === 0 || events.length > this.config.MAX_BATCH_SIZE) {
      throw new BadRequestException({ error: 'invalid_batch', errors: [{ field: 'events', message: `must hold 1 to ${this.config.MAX_BATCH_SIZE} events` }] });
    }
    const receivedAt = Date.now();
    const results = events.map((e, index) => ({ index, prepared: this.ingest.prepare(e, { channel, source: req.sourceId ?? 'unknown', receivedAt }, 'http') }));
    const valid = results.flatMap((r) => (r.prepared.ok ? [r.prepared.value] : [])) as CanonicalEvent[];
    if (valid.length) await this.ingest.publish(valid, channel, 'http');
    const report = results.map((r) =>
      r.prepared.ok ? { index: r.index, status: 'accepted', eventId: r.prepared.value.eventId } : { index: r.index, status: 'rejected', errors: r.prepared.errors },
    );
    res.status(valid.length === events.length ? 202 : 207).json({ accepted: valid.length, rejected: events.length - valid.length, results: report });
  }
}
