import { loadRules } from './identity-rules';
import { rulesFingerprint } from './rules-reevaluation';

describe('rulesFingerprint', () => {
  const rules = loadRules(undefined);

  it('does not depend on key order', () => {
    const reordered = Object.fromEntries(Object.entries(rules).reverse()) as typeof rules;
    expect(rulesFingerprint(reordered)).toBe(rulesFingerprint(rules));
  });

  it('changes when a rule changes', () => {
    const changed = { ...rules, types: { ...rules.types, visitor_id: { ...rules.types.visitor_id!, mayMerge: !rules.types.visitor_id!.mayMerge } } };
    expect(rulesFingerprint(changed)).not.toBe(rulesFingerprint(rules));
  });
});
