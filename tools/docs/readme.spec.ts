/**
 * Keeps the docs true: every topic the code defines is in docs/topics.md, and README's quick start
 * is what CI runs. (Each service's variables and port are checked by its own config-docs spec.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_TOPICS, PURPOSE_FEEDS } from '@cdp/contracts';

const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const topicsDoc = readFileSync(join(__dirname, '../../docs/topics.md'), 'utf8');

describe('README.md', () => {
  const documentedAs = (name: string): string =>
    name.replace(/^cdp\.raw\.[a-z0-9-]+\.v1$/, 'cdp.raw.<channel>.v1').replace(/^cdp\.profiles\.updates\.[a-z-]+\.v1$/, 'cdp.profiles.updates.<feed>.v1');

  it.each(ALL_TOPICS.map((t) => [documentedAs(t.name)]))('documents topic %s in docs/topics.md', (name) => {
    expect(topicsDoc).toContain(`\`${name}\``);
  });

  it.each(PURPOSE_FEEDS.map((f) => [f.id]))('names purpose feed %s in the topic table', (id) => {
    expect(topicsDoc).toMatch(new RegExp(`^\\| \`cdp\\.profiles\\.updates\\.<feed>\\.v1\`.*\`${id}\``, 'm'));
  });

  const quickStartCommands = (): string[] => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Architecture'));
    return [...quickStart.matchAll(/```sh\n([^`]+)```/g)].map((m) => m[1]!.trim());
  };

  it('gives exactly the two quick-start commands', () => {
    expect(quickStartCommands()).toEqual(['./cdp up', './cdp test']);
  });

  it('is what CI runs: .ci/run executes the README test command and nothing else', () => {
    const ci = readFileSync(join(__dirname, '../../.ci/run'), 'utf8');
    const commands = ci.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('set ') && !l.startsWith('cd '));
    expect(commands).toEqual([quickStartCommands()[1]]);
  });
});
