/**
 * Social handles, namespaced by platform. The platform comes from `namespaces.social_handle` or a
 * "platform:handle" prefix; a profile URL also works. Known platforms get their own character rules
 * and aliases (twitter = x); handles are case-insensitive on all of them, so the key is
 * "platform:handle" in lower case.
 */
import { accept, refuse, tidy, type Normalised } from './types';

interface Platform {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly pattern: RegExp;
}

const PLATFORMS: readonly Platform[] = [
  { name: 'x', hosts: ['x.com', 'twitter.com'], pattern: /^[a-z0-9_]{1,15}$/ },
  { name: 'instagram', hosts: ['instagram.com'], pattern: /^[a-z0-9._]{1,30}$/ },
  { name: 'tiktok', hosts: ['tiktok.com'], pattern: /^[a-z0-9._]{2,24}$/ },
  { name: 'facebook', hosts: ['facebook.com', 'fb.com'], pattern: /^[a-z0-9.]{1,50}$/ },
  { name: 'linkedin', hosts: ['linkedin.com'], pattern: /^[a-z0-9-]{3,100}$/ },
  { name: 'youtube', hosts: ['youtube.com'], pattern: /^[a-z0-9._-]{3,30}$/ },
  { name: 'threads', hosts: ['threads.net'], pattern: /^[a-z0-9._]{1,30}$/ },
];
const ALIASES: Readonly<Record<string, string>> = { twitter: 'x', fb: 'facebook', ig: 'instagram' };
const GENERIC = /^[\p{L}\p{N}._-]{1,64}$/u;

export function platformName(raw: string): string {
  const p = raw.trim().toLowerCase();
  return ALIASES[p] ?? p;
}

function fromUrl(text: string): { platform: string; handle: string } | undefined {
  try {
    const url = new URL(text);
    const host = url.hostname.replace(/^(www|m|mobile)\./, '');
    const platform = PLATFORMS.find((p) => p.hosts.includes(host));
    const first = url.pathname.split('/').filter(Boolean)[0];
    if (!platform || !first) return undefined;
    return { platform: platform.name, handle: first };
  } catch {
    return undefined;
  }
}

export function normaliseSocialHandle(raw: string, namespace: string | undefined): Normalised {
  const text = tidy(raw);
  let platform = namespace ? platformName(namespace) : undefined;
  let handle = text;
  const url = /^https?:\/\//i.test(text) ? fromUrl(text) : undefined;
  if (url) {
    platform ??= url.platform;
    handle = url.handle;
  } else if (!platform) {
    const m = /^([a-z]+):(.+)$/i.exec(text);
    if (m) {
      platform = platformName(m[1]!);
      handle = m[2]!;
    }
  }
  if (!platform) return refuse('social handle needs a platform: namespaces.social_handle, "platform:handle" or a profile URL');
  if (!/^[a-z0-9-]{1,32}$/.test(platform)) return refuse('social platform must be a short lower-case name such as instagram');
  const key = handle.trim().replace(/^@/, '').toLowerCase();
  const rule = PLATFORMS.find((p) => p.name === platform)?.pattern ?? GENERIC;
  if (!rule.test(key)) return refuse(`not a valid ${platform} handle`);
  // The platform is part of the key: @ann on x and @ann on instagram may be different people.
  return accept(`@${key}`, `${platform}:${key}`, platform);
}
