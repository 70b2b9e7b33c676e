/**
 * Podman as the project runs it: with its own containers.conf (infra/containers/containers.conf,
 * through CONTAINERS_CONF) so no file in /etc/containers has to change, and child processes whose
 * output goes to the terminal or is kept for the error message.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const CONTAINERS_CONF = join(REPO_ROOT, 'infra', 'containers', 'containers.conf');

/** The environment every podman, buildah and podman-compose call gets. */
export function podmanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF, ...extra };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Stream the child's output to ours (a long build the user watches); otherwise only keep it. */
  stream?: boolean;
  timeoutMs?: number;
}

/** Runs a command to its end; never throws for a non-zero exit (see {@link mustRun}). */
export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? podmanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (opts.stream) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (opts.stream) process.stderr.write(chunk);
    });
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(new Error(`could not run ${command}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a command and throws, with the end of its output, unless it exits 0. */
export async function mustRun(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(command, args, opts);
  if (result.code !== 0) {
    const output = opts.stream ? '' : `\n${tail(`${result.stdout}\n${result.stderr}`, 40)}`;
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}${output}`);
  }
  return result;
}

/** Why podman cannot run containers here, or undefined when it can. */
export async function podmanUnavailable(): Promise<string | undefined> {
  let info: RunResult;
  try {
    info = await run('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { timeoutMs: 60_000 });
  } catch {
    return 'podman is not installed (apt-get install podman buildah runc podman-compose mmdebstrap)';
  }
  if (info.code !== 0) return `podman info failed: ${tail(info.stderr, 5)}`;
  return undefined;
}

/** The labels of a local image, or undefined when there is no such image. */
export async function imageLabels(image: string): Promise<Record<string, string> | undefined> {
  const result = await run('podman', ['image', 'inspect', '--format', '{{json .Labels}}', image]);
  if (result.code !== 0) return undefined;
  return (JSON.parse(result.stdout.trim() || 'null') as Record<string, string> | null) ?? {};
}
