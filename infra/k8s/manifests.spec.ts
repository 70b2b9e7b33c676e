/**
 * The Kubernetes base (infra/k8s/base) and the example Secrets are valid Kubernetes objects (the
 * API's OpenAPI schemas, through tools/k8s/validate-schemas.mjs), and they deploy the services the
 * way the state design and the images need: the workload kind each service's state allows, probes on
 * the health endpoints, resources, disruption budgets, non-root with a read-only root filesystem,
 * state on volumes where the image keeps it, settings from the ConfigMap and secrets from Secrets,
 * every variable one the service documents.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

const ROOT = join(__dirname, '../..');
const BASE = join(__dirname, 'base');

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are checked field by field below */
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [key: string]: any };

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as K8sObject;
  });
}

/** Runs the schema validator; invalid objects come back with the reason. */
function schemaErrors(objects: unknown[]): Array<{ index: number; kind: string; name: string; error: string }> {
  try {
    return JSON.parse(execFileSync(process.execPath, [join(ROOT, 'tools/k8s/validate-schemas.mjs')], { input: JSON.stringify(objects), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }));
  } catch (err) {
    throw new Error(`schema validation did not run: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
}

const kustomization = parse(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8')) as { resources: string[]; images: Array<{ name: string }> };
const objects = kustomization.resources.flatMap((file) => readObjects(join(BASE, file)));
const secrets = readObjects(join(__dirname, 'secrets.example.yaml'));
const find = (kind: string, name: string, from = objects) => from.find((o) => o.kind === kind && o.metadata.name === name);

/** Variables docs/configuration.md's table documents, per service ("all" included). */
function documentedVariables(service: string): Set<string> {
  const vars = new Set<string>();
  for (const line of readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1].startsWith('`')) continue;
    const services = cells[2].split(',').map((s) => s.trim());
    if (!services.includes('all') && !services.includes(service)) continue;
    for (const m of cells[1].matchAll(/`([A-Z0-9_]+)`/g)) vars.add(m[1]);
  }
  return vars;
}

/** The state directory an image declares (ENV <VAR>=<dir> that is also its VOLUME), if any. */
function imageStateDir(service: string): string | undefined {
  const dockerfile = readFileSync(join(ROOT, 'apps', service, 'Dockerfile'), 'utf8');
  const volume = /^VOLUME\s+(\S+)/m.exec(dockerfile)?.[1];
  return volume;
}

const SERVICES = [
  { name: 'ingestion', port: 3001, kind: 'Deployment', secretVars: ['INGEST_API_KEYS'] },
  { name: 'identity', port: 3002, kind: 'Deployment', secretVars: ['NEO4J_USER', 'NEO4J_PASSWORD', 'IDENTITY_HMAC_KEY', 'IDENTITY_API_KEYS'] },
  // Local state that is not partitioned by instance (docs/profiles.md, Scaling; docs/kpis.md, Limits): one pod.
  { name: 'profiles', port: 3003, kind: 'StatefulSet', secretVars: ['PROFILES_API_KEYS'] },
  { name: 'metrics', port: 3004, kind: 'StatefulSet', secretVars: [] },
] as const;

describe('Kubernetes manifests', () => {
  it('are valid against the Kubernetes API schemas (the base and the example Secrets)', () => {
    expect(schemaErrors([...objects, ...secrets])).toEqual([]);
  });

  it('the schema check rejects what the API server would', () => {
    const broken = structuredClone(find('StatefulSet', 'profiles')!);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    delete broken.spec.selector;
    const errors = schemaErrors([broken, { apiVersion: 'v1', kind: 'NoSuchKind', metadata: { name: 'x' } }]);
    expect(errors.map((e) => e.index)).toEqual([0, 1]);
    expect(errors[0].error).toMatch(/containerPort must be integer|must have required property 'selector'/);
  });

  it('ship no Secret in the base: an operator creates them, nothing falls back to a default', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(secrets.every((s) => s.kind === 'Secret')).toBe(true);
  });

  it('name an image the kustomization can retag for every container', () => {
    const images = objects.flatMap((o) => o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image);
    expect(images.sort()).toEqual(kustomization.images.map((i) => i.name).sort());
  });

  describe.each(SERVICES)('$name', ({ name, port, kind, secretVars }) => {
    const workload = find(kind, name)!;
    const pod = workload?.spec.template.spec;
    const container = pod?.containers[0];
    const podLabels = workload?.spec.template.metadata.labels;
    const env = (container?.env ?? []) as Array<{ name: string; value?: string; valueFrom?: any }>;

    it(`is a ${kind} whose selector matches its pods`, () => {
      expect(workload).toBeDefined();
      expect(podLabels).toMatchObject(workload.spec.selector.matchLabels);
      if (kind === 'StatefulSet') {
        expect(workload.spec.replicas).toBe(1);
        expect(find('Service', workload.spec.serviceName)?.spec.clusterIP).toBe('None');
      }
    });

    it('serves HTTP on its configured port, probed on /health/live and /health/ready', () => {
      const source = readFileSync(join(ROOT, 'apps', name, 'src/config.ts'), 'utf8');
      expect(source).toContain(`HTTP_PORT: baseConfigShape.HTTP_PORT.default(${port})`);
      expect(container.ports).toEqual([{ name: 'http', containerPort: port }]);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      // SIGTERM: the service exits within SHUTDOWN_TIMEOUT_MS (15 s); the pod must wait longer.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(15);
    });

    it('has a Service and a PodDisruptionBudget that select its pods', () => {
      const service = find('Service', name)!;
      expect(podLabels).toMatchObject(service.spec.selector);
      expect(service.spec.ports).toEqual([{ name: 'http', port, targetPort: 'http' }]);
      const pdb = find('PodDisruptionBudget', name)!;
      expect(podLabels).toMatchObject(pdb.spec.selector.matchLabels);
      expect(pdb.spec.maxUnavailable).toBe(1);
    });

    it('requests CPU and memory and limits memory', () => {
      expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      expect(container.resources.limits.memory).toEqual(expect.any(String));
    });

    it('runs as non-root with a read-only root filesystem and no privileges', () => {
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(pod.automountServiceAccountToken).toBe(false);
    });

    it('mounts a volume where the image keeps its state (a claim per pod for a StatefulSet)', () => {
      const dir = imageStateDir(name);
      const mounts = (container.volumeMounts ?? []) as Array<{ name: string; mountPath: string }>;
      expect(mounts.find((m) => m.mountPath === '/tmp')).toBeDefined();
      const state = mounts.filter((m) => m.mountPath !== '/tmp');
      if (dir === undefined) return expect(state).toEqual([]);
      expect(state).toEqual([{ name: 'state', mountPath: dir }]);
      if (kind === 'StatefulSet') expect(workload.spec.volumeClaimTemplates.map((c: K8sObject) => c.metadata.name)).toEqual(['state']);
      else expect(pod.volumes.find((v: { name: string }) => v.name === 'state')?.emptyDir).toBeDefined();
    });

    it('sets only variables the service documents, settings from cdp-config and secrets from Secrets', () => {
      const documented = documentedVariables(name);
      for (const e of env) expect([e.name, documented.has(e.name)]).toEqual([e.name, true]);
      for (const e of env) expect([e.name, e.value]).toEqual([e.name, undefined]);
      const config = find('ConfigMap', 'cdp-config')!;
      for (const e of env.filter((v) => v.valueFrom?.configMapKeyRef)) {
        expect(e.valueFrom.configMapKeyRef.name).toBe('cdp-config');
        expect(config.data).toHaveProperty([e.valueFrom.configMapKeyRef.key]);
      }
      const fromSecrets = env.filter((v) => v.valueFrom?.secretKeyRef);
      expect(fromSecrets.map((e) => e.name).sort()).toEqual([...secretVars].sort());
      for (const e of fromSecrets) {
        const { name: secret, key } = e.valueFrom.secretKeyRef;
        expect(find('Secret', secret, secrets)?.stringData).toHaveProperty([key]);
      }
      expect(container.envFrom).toEqual([{ secretRef: { name: 'cdp-kafka', optional: true } }]);
      expect(find('Secret', 'cdp-kafka', secrets)).toBeDefined();
    });
  });
});
