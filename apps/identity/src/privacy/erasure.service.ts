/**
 * A customer's erasure request, carried out in the order that keeps it from coming back:
 * 1. every identity of the profile goes on the suppression list (the compacted erasures topic,
 *    acknowledged by the broker) and into this instance's list, so from now on no event, new or
 *    replayed, links them again on any instance;
 * 2. ERASE is published on the identity changes topic: the profiles service tombstones and deletes
 *    the profile and its merged ids, and drops the person from the profiles that linked them as a
 *    household member or avatar (`linkedProfileIds`); metrics forgets the profile;
 * 3. the identities, their links and the profile nodes are deleted from the graph.
 * 3 also records the receipt (erasure-receipts.ts) in the same transaction: a request for someone
 * erased already answers with that receipt. A request that fails part-way can be repeated: each
 * step is idempotent, and the graph still holds the profile until the last step.
 */
import { randomUUID } from 'node:crypto';
import { identityChangesTopic, identityErasuresTopic, profileUpdatesTopic, type IdentityChange, type IdentityErasure } from '@cdp/contracts';
import { output, type KafkaPlatform } from '@cdp/kafka';
import { counter, type Logger, type Registry } from '@cdp/observability';
import type { ChangePublisher } from '../resolution/resolution.service';
import type { ErasedKeys } from './erased-keys';
import { receiptOf, type ErasureReceipt, type ReceiptRef, type ReceiptTopics } from './erasure-receipts';
import type { ErasureRepository } from './erasure.repository';
import type { ErasureTarget } from './erasure-target';

const RECEIPT_TOPICS: ReceiptTopics = { erasures: identityErasuresTopic.name, changes: identityChangesTopic.name, profileUpdates: profileUpdatesTopic.name };

export type { ErasureReceipt } from './erasure-receipts';

export class ErasureService {
  private readonly requests;

  constructor(
    private readonly repo: ErasureRepository,
    private readonly erased: ErasedKeys,
    private readonly kafka: KafkaPlatform,
    private readonly changes: ChangePublisher,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.requests = counter(registry, 'cdp_identity_erasures_total', 'Erasure requests, by result', ['result']);
  }

  /** Undefined when neither the graph nor an earlier erasure knows the profile. */
  async erase(profileId: string): Promise<ErasureReceipt | undefined> {
    const target = await this.repo.target(profileId);
    if (!target) return this.earlier({ profileId });
    return this.eraseTarget(target);
  }

  /** A request for someone erased already answers with that erasure's receipt. */
  async earlier(ref: ReceiptRef): Promise<ErasureReceipt | undefined> {
    const receipt = await this.repo.receipt(ref);
    this.requests.inc({ result: receipt ? 'repeated' : 'not-found' });
    return receipt;
  }

  private async eraseTarget(target: ErasureTarget): Promise<ErasureReceipt> {
    const requestId = randomUUID();
    const at = Date.now();
    const records = target.identities.map((i): IdentityErasure => ({ identityKey: i.key, identityType: i.type, profileId: target.profileId, requestId, at }));
    await this.kafka.producer.publish(records.map((r) => output(identityErasuresTopic, r.identityKey, r)));
    for (const r of records) this.erased.add(r.identityKey);
    const change: IdentityChange = {
      changeId: `erase:${requestId}`,
      kind: 'ERASE',
      survivorProfileId: target.profileId,
      otherProfileIds: [...target.mergedProfileIds].sort(),
      reason: 'erasure request',
      evidence: { eventId: `erasure-${requestId}`, channel: 'operator:erasure', occurredAt: at, identityType: '', designation: '' },
      at,
      parts: [],
      linkedProfileIds: [...target.linkedProfileIds],
    };
    await this.changes.publishChanges([change]);
    const receipt = await this.repo.erase(target, receiptOf(target, requestId, at, RECEIPT_TOPICS));
    this.requests.inc({ result: 'erased' });
    this.logger.info(
      { requestId: receipt.requestId, profileId: target.profileId, mergedProfiles: target.mergedProfileIds.length, linkedProfiles: target.linkedProfileIds.length, identities: records.length },
      'profile erased',
    );
    return receipt;
  }
}
