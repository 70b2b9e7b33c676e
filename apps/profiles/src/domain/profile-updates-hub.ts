/** In-process fan-out of committed profile changes to live readers (the SSE stream). */
import { Injectable } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { Profile } from '@cdp/contracts';

export type ProfileChange = { readonly kind: 'update'; readonly profile: Profile } | { readonly kind: 'removed'; readonly profileId: string; readonly survivorId: string | null };

@Injectable()
export class ProfileUpdatesHub {
  private readonly subject = new Subject<ProfileChange>();

  get changes(): Observable<ProfileChange> {
    return this.subject.asObservable();
  }

  emit(change: ProfileChange): void {
    this.subject.next(change);
  }
}
