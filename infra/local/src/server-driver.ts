/**
 * What the provider needs to know about a server to run it: its files and ports, how to prepare and
 * start its JVM, and how to tell that it serves clients. The provider (provider.ts) does the rest —
 * pid and state files, locking, waiting, stopping — the same way for every server.
 */
import type { ServerFiles } from './config';

export type ServerName = 'kafka' | 'neo4j';

export interface ServerPort {
  readonly port: number;
  /** The variable that moves it, for messages that say how to pick another port. */
  readonly env: string;
}

export interface JvmCommand {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

export interface ServerDriver {
  readonly name: ServerName;
  readonly files: ServerFiles;
  /** The port clients use (and readiness is checked on). */
  readonly port: number;
  /** Every port the server binds, client port first. */
  readonly ports: readonly ServerPort[];
  /** The address clients use, for log lines. */
  readonly address: string;
  /** Ports besides `port` that the state file records (Kafka: its controller port). */
  readonly extraState: Readonly<Record<string, number>>;
  /** Writes configuration and initialises storage before a start. */
  prepare(log: (line: string) => void): Promise<void>;
  /** The JVM arguments (after `java`) and environment of the server process. */
  command(): JvmCommand;
  /**
   * True once a server started here says it has finished starting (Neo4j prints a marker after it
   * set the password: probing before that would count as failed logins).
   */
  startupReported(): boolean;
  /** True when the server on `port` answers its real client (a round trip, not just a TCP accept). */
  answers(port: number): Promise<boolean>;
  /** Runs once the server is ready after a start (secure Kafka: users and ACLs). */
  afterStart(log: (line: string) => void): Promise<void>;
}
