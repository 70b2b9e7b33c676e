/**
 * The profiles side of a privacy export: `GET /v1/profiles/:id/export` on the profiles service's
 * read API (any instance answers; it routes to the owner), with a reader key of scope `export`.
 * Whatever stops the answer (down, slow, refusing the key, restoring) is a ProfilesUnavailable
 * with a reason a privacy officer can act on, so the export is never handed out without its profile
 * side by mistake.
 */

/** What the profiles service holds about one person (its export route's answer). */
export interface ProfilesExport {
  readonly exportedAt?: string;
  readonly profile: { readonly profileId: string } & Record<string, unknown>;
  readonly mergedProfileIds: readonly string[];
  readonly events: readonly unknown[];
  readonly foldedEvents: unknown;
}

export class ProfilesUnavailable extends Error {
  readonly retriable = true;
}

export type ProfilesAnswer = { readonly found: true; readonly export: ProfilesExport } | { readonly found: false };

export class ProfilesExportClient {
  constructor(
    private readonly baseUrl: string | undefined,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  async exportOf(profileId: string): Promise<ProfilesAnswer> {
    if (this.baseUrl === undefined || this.apiKey === undefined) throw new ProfilesUnavailable('the profiles service is not configured (PRIVACY_PROFILES_URL, PRIVACY_PROFILES_API_KEY)');
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/v1/profiles/${encodeURIComponent(profileId)}/export`, {
        headers: { 'x-api-key': this.apiKey, accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (e.cause?.code ?? e.name);
      throw new ProfilesUnavailable(`the profiles service is unreachable (${why})`);
    }
    if (res.status === 404) return { found: false };
    if (res.status === 401 || res.status === 403) throw new ProfilesUnavailable(`the profiles service refused the export key (${res.status}): PRIVACY_PROFILES_API_KEY needs a reader key with scope export`);
    if (res.status !== 200) {
      const body = (await res.json().catch(() => ({}))) as { error?: unknown };
      throw new ProfilesUnavailable(`the profiles service answered ${res.status}${typeof body.error === 'string' ? ` (${body.error})` : ''}; try again shortly`);
    }
    return { found: true, export: (await res.json()) as ProfilesExport };
  }
}
