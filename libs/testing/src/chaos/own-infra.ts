/**
 * A Kafka + Neo4j of the chaos bench's own, on its own ports and state folder, driven through the
 * local provider's CLI (infra/local/cdp-infra.mjs and its env knobs): the bench kills these
 * servers, so it never uses the shared ones. SIGKILL goes to the pid the provider recorded; a
 * restart is the provider's `up`, which starts again only what is not running, on the same data.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '@cdp/local-infra';
import { ProviderCli } from '../provider-cli';

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

const ROOT = join(__dirname, '../../../..');

export class OwnInfra {
  private constructor(
    private readonly cli: ProviderCli,
    readonly servers: Servers,
  ) {}

  /** Starts (or finds running) the instance described by `o`; resolves once both servers answer. */
  static async start(o: InfraOptions, log: (line: string) => void = () => undefined): Promise<OwnInfra> {
    mkdirSync(o.home, { recursive: true });
    const jars = join(o.home, 'jars');
    const from = o.jarsFrom ?? join(ROOT, '.local/infra/jars');
    if (!existsSync(jars) && existsSync(from)) symlinkSync(from, jars);
    // A JVM restarting after SIGKILL recovers its store first: on a busy 2-core box Neo4j can take
    // over the provider's default 120 s, so the bench waits longer unless told otherwise.
    const env = { CDP_INFRA_START_TIMEOUT: '300', ...process.env, CDP_INFRA_HOME: o.home, KAFKA_PORT: String(o.kafkaPort), KAFKA_CONTROLLER_PORT: String(o.kafkaControllerPort), NEO4J_BOLT_PORT: String(o.neo4jBoltPort) };
    const cli = new ProviderCli(env, log);
    await cli.call('up');
    const conn = await cli.env();
    return new OwnInfra(cli, { kafkaBrokers: conn.KAFKA_BROKERS!, neo4jUri: conn.NEO4J_URI!, neo4jUser: conn.NEO4J_USER!, neo4jPassword: conn.NEO4J_PASSWORD! });
  }

  async pidOf(server: InfraServer): Promise<number> {
    const info = (await this.cli.status())[server];
    if (!info) throw new Error(`${server} is not one of this instance's servers`);
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
    await this.cli.call('up');
  }

  async stop(): Promise<void> {
    await this.cli.call('down');
  }
}
