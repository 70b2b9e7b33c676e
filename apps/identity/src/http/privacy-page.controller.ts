/**
 * Serves the privacy office's page (src/privacy-page, copied next to the compiled code by the
 * build, so the same relative path works from source and from dist): static HTML and script, open
 * like the KPI dashboard; everything it shows comes from the privacy API, which needs a privacy key
 * (entered in the page, kept in the tab's sessionStorage). The identity types in its form come from
 * the contracts, so the page never offers a type the API would refuse.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Header } from '@nestjs/common';
import { IDENTITY_TYPES } from '@cdp/contracts';

const PAGE_DIR = join(__dirname, '..', 'privacy-page');
const read = (file: string) => readFileSync(join(PAGE_DIR, file), 'utf8');

@Controller('privacy')
export class PrivacyPageController {
  private readonly page = read('index.html').replace('<!--IDENTITY_TYPES-->', IDENTITY_TYPES.map((t) => `<option value="${t}">${t}</option>`).join(''));
  private readonly script = read('privacy.js');

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  index(): string {
    return this.page;
  }

  @Get('privacy.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  pageScript(): string {
    return this.script;
  }
}
