import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockList, defaultRules, loadRules, RulesError } from './identity-rules';

const write = (name: string, text: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'rules-')), name);
  writeFileSync(file, text);
  return file;
};

describe('identity rules', () => {
  it('the example file is the built-in defaults', () => {
    expect(loadRules(join(__dirname, '../../identity-rules.example.yaml'))).toEqual(defaultRules());
  });

  it('reads JSON as well', () => {
    const json = JSON.stringify({ ...defaultRules(), version: 7 });
    expect(loadRules(write('r.json', json)).version).toBe(7);
  });

  it.each([
    ['a missing version', (r: Record<string, unknown>) => delete r.version, 'version'],
    ['a type without a rule', (r: Record<string, unknown>) => delete (r.types as Record<string, unknown>).email, 'types'],
    ['an unknown field', (r: Record<string, unknown>) => (r.colour = 'red'), 'colour'],
    ['a bad pattern', (r: Record<string, unknown>) => (r.blockedPatterns = ['(']), 'blockedPatterns.0'],
    ['a zero limit', (r: Record<string, unknown>) => ((r.types as Record<string, Record<string, unknown>>).email!.limit = { max: 0 }), 'types.email.limit.max'],
    ['a bad onConflict', (r: Record<string, unknown>) => ((r.types as Record<string, Record<string, unknown>>).phone!.onConflict = 'newest'), 'types.phone.onConflict'],
  ])('rejects %s, naming the field', (_name, mutate, field) => {
    const rules = structuredClone(defaultRules()) as unknown as Record<string, unknown>;
    mutate(rules);
    expect(() => loadRules(write('r.yaml', JSON.stringify(rules)))).toThrow(RulesError);
    expect(() => loadRules(write('r.yaml', JSON.stringify(rules)))).toThrow(field);
  });

  it('rejects an unreadable file', () => {
    expect(() => loadRules('/nonexistent/rules.yaml')).toThrow('cannot read identity rules file');
  });

  it.each<[string, string, boolean]>([
    ['email', 'test@test.com', true],
    ['phone', '0000000000', true],
    ['email', 'frontdesk@shop.example', true],
    ['loyalty_number', 'LOY-TEST-1', true],
    ['email', 'ann@brand.co.uk', false],
    ['loyalty_number', 'LOY-123', false],
  ])('blocks %s %s: %s', (type, value, blocked) => {
    const rules = { ...defaultRules(), blockedValues: ['frontdesk@shop.example'] };
    rules.types = { ...rules.types, loyalty_number: { ...rules.types.loyalty_number, blockedPatterns: ['-test-'] } };
    expect(new BlockList(rules).isBlocked(type, value)).toBe(blocked);
  });
});
