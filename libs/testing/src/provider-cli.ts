/**
 * The local provider's command (node infra/local/cdp-infra.mjs) as a child process with the caller's
 * environment knobs (CDP_INFRA_HOME, ports). Tests and benches drive the servers through the same
 * command an operator uses; it also works from Jest's global setup, where the workspace's path
 * aliases do not resolve.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '../../..');
const CLI = join(ROOT, 'infra/local/cdp-infra.mjs');
const run = promisify(execFile);

/** What `status --json` reports per server (the fields callers read). */
export interface ProviderServerStatus {
  readonly state: 'running' | 'starting' | 'stale' | 'stopped';
  readonly pid?: number | null;
}

export interface ProviderStatus {
  readonly ok: boolean;
  readonly kafka: ProviderServerStatus;
  readonly neo4j?: ProviderServerStatus;
}

export class ProviderCli {
  constructor(
    private readonly settings: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void,
  ) {}

  async call(...args: string[]): Promise<string> {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: this.settings, maxBuffer: 10 * 1024 * 1024 });
      for (const line of stderr.split('\n').filter(Boolean)) this.log(line);
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number };
      // status exits 3 when a server is not running: its JSON is still the answer.
      if (args[0] === 'status' && e.code === 3 && e.stdout) return e.stdout;
      throw new Error(`cdp-infra ${args.join(' ')} failed: ${e.stderr ?? String(err)}`);
    }
  }

  async status(): Promise<ProviderStatus> {
    return JSON.parse(await this.call('status', '--json')) as ProviderStatus;
  }

  /** The KEY=value lines of `env`. */
  async env(): Promise<Record<string, string>> {
    const lines = (await this.call('env')).split('\n').filter((l) => l.includes('='));
    return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
}
