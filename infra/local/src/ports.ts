/** Who holds a port the provider wants: nobody, another program, or one of our servers that lost its pid file. */
import { spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { HOST } from './config';
import { commandLine } from './processes';

function tcpAnswers(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: HOST, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Null when the port can be bound on 127.0.0.1, else a short description of its holder. */
export async function portHolder(port: number): Promise<string | null> {
  const free = await new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: HOST, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
  // A listener on another address of the same port (0.0.0.0, ::) still answers on loopback.
  if (free && !(await tcpAnswers(port, 500))) return null;
  const r = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8', timeout: 2000 });
  const m = r.status === 0 ? /users:\(\("([^"]+)",pid=(\d+)/.exec(r.stdout || '') : null;
  if (!m) return 'another process';
  const cmd = commandLine(Number(m[2])) ?? '';
  const ours = /-Dcdp\.infra\.server=(\w+)/.exec(cmd);
  const home = /-Dcdp\.infra\.home=(\S+)/.exec(cmd);
  if (ours) return `a cdp-infra ${ours[1]} server (pid ${m[2]}, home ${home ? home[1] : '?'}; no pid file, stop it with: kill ${m[2]})`;
  return `${m[1]} pid ${m[2]}`;
}
