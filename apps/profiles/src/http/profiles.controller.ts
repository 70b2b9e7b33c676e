/** Profile read API: by id (following merges), by identity, and a paged list. */
import { BadRequestException, Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import type { Profile } from '@cdp/contracts';
import { ProfileStore } from '../domain/profile-store';

@Controller('v1/profiles')
export class ProfilesController {
  constructor(private readonly store: ProfileStore) {}

  @Get()
  list(@Query('offset') offset = '0', @Query('limit') limit = '50'): { total: number; offset: number; items: Profile[] } {
    const o = Number(offset);
    const l = Number(limit);
    if (!Number.isInteger(o) || o < 0) throw new BadRequestException({ error: 'invalid_query', field: 'offset', message: 'must be a non-negative integer' });
    if (!Number.isInteger(l) || l < 1 || l > 500) throw new BadRequestException({ error: 'invalid_query', field: 'limit', message: 'must be 1 to 500' });
    return { offset: o, ...this.store.list(o, l) };
  }

  @Get('lookup')
  lookup(@Query('type') type?: string, @Query('value') value?: string): Profile {
    if (!type) throw new BadRequestException({ error: 'invalid_query', field: 'type', message: 'required' });
    if (!value) throw new BadRequestException({ error: 'invalid_query', field: 'value', message: 'required' });
    const found = this.store.findByIdentity(type, value);
    if (!found) throw new NotFoundException({ error: 'not_found', message: 'no profile holds that identity' });
    return found;
  }

  @Get(':profileId')
  byId(@Param('profileId') profileId: string): Profile {
    const found = this.store.get(profileId);
    if (!found) throw new NotFoundException({ error: 'not_found', field: 'profileId', message: 'no such profile' });
    return found;
  }
}
