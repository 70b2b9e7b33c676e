/**
 * A Kafka + Neo4j of the chaos bench's own, on its own ports and state folder, driven through the
 * local provider (infra/local/provider.mjs): the bench kills these servers, so it never uses the
 * shared ones. SIGKILL goes to the pid the provider recorded; a restart is the provider's `up`,
 * which starts again only what is not running, on the same data.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface InfraOptions {
  /** State folder (data, logs, pid files); jars are linked in from `jarsFrom` when missing. */
  readonly home: string;
  readonly kafkaPort: number;
  readonly kafkaControllerPort: number;
  readonly neo4jBoltPort: number;
  /** A filled jars folder of another provider home, so the first start resolves nothing. */
  readonly jarsFrom?: string;
}

export interface Servers {
  readonly kafkaBrokers: string;
  readonly neo4jUri: string;
  readonly neo4jUser: string;
  readonly neo4jPassword: string;
}

export type InfraServer = 'kafka' | 'neo4j';

interface ServerInfo {
  readonly state: string;
  readonly pid?: number;
}

interface Provider {
  up(opts: object): Promise<Servers>;
  down(opts: object): Promise<unknown>;
  status(opts: object): Promise<{ kafka: ServerInfo; neo4j: ServerInfo }>;
}

const ROOT = join(__dirname, '../..');

async function provider(): Promise<Provider> {
  const url = pathToFileURL(join(ROOT, 'infra/local/provider.mjs')).href;
  // A real dynamic import (not transpiled to require): the provider is an ES module.
  return (await new Function('u', 'return import(u)')(url)) as Provider;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class OwnInfra {
  private constructor(
    private readonly p: Provider,
    private readonly opts: object,
    readonly servers: Servers,
  ) {}

  /** Starts (or finds running) the instance described by `o`; resolves once both servers answer. */
  static async start(o: InfraOptions, log: (line: string) => void = () => undefined): Promise<OwnInfra> {
    mkdirSync(o.home, { recursive: true });
    const jars = join(o.home, 'jars');
    const from = o.jarsFrom ?? join(ROOT, '.local/infra/jars');
    if (!existsSync(jars) && existsSync(from)) symlinkSync(from, jars);
    const opts = { home: o.home, kafkaPort: o.kafkaPort, kafkaControllerPort: o.kafkaControllerPort, neo4jBoltPort: o.neo4jBoltPort, log: (m: string) => log(`[infra] ${m}`) };
    const p = await provider();
    const servers = await p.up(opts);
    return new OwnInfra(p, opts, servers);
  }

  async pidOf(server: InfraServer): Promise<number> {
    const info = (await this.p.status(this.opts))[server];
    if (info.state !== 'running' || !info.pid) throw new Error(`${server} is not running (${info.state})`);
    return info.pid;
  }

  /** SIGKILL, then wait until the process is gone (the port is free for the restart). */
  async kill(server: InfraServer): Promise<void> {
    const pid = await this.pidOf(server);
    process.kill(pid, 'SIGKILL');
    while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
  }

  /** Starts whatever is not running, on the same data; resolves when both servers answer. */
  async restart(): Promise<void> {
    await this.p.up(this.opts);
  }

  async stop(): Promise<void> {
    await this.p.down(this.opts);
  }
}
