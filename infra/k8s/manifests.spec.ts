/**
 * The Kubernetes base (infra/k8s/base) and the example Secrets are valid Kubernetes objects (the
 * API's OpenAPI schemas, through tools/k8s/validate-schemas.mjs), and they deploy the services the
 * way the state design and the images need: the workload kind each service's state allows, several
 * pods of each, each pod of profiles and metrics advertising an address the other pods reach, probes
 * on the health endpoints, resources, disruption budgets that fit the replica counts, non-root with a
 * read-only root filesystem, state on volumes where the image keeps it, settings from the ConfigMap
 * and secrets from Secrets, every variable one the service documents; CDP_ENV and HTTP_INTERNAL_PORT
 * reach every container, and Prometheus is pointed at the port /metrics is served on.
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

/**
 * advertisedUrl: the variable with which a pod tells the other pods where to route reads to it
 * (state follows its partitions: docs/profiles.md, Scaling; docs/kpis.md, Instances, tasks and restores).
 */
const SERVICES = [
  { name: 'ingestion', port: 3001, kind: 'Deployment', secretVars: ['INGEST_API_KEYS'], advertisedUrl: undefined },
  { name: 'identity', port: 3002, kind: 'Deployment', secretVars: ['NEO4J_USER', 'NEO4J_PASSWORD', 'IDENTITY_HMAC_KEY', 'IDENTITY_API_KEYS', 'PRIVACY_PROFILES_API_KEY'], advertisedUrl: undefined },
  { name: 'profiles', port: 3003, kind: 'StatefulSet', secretVars: ['PROFILES_API_KEYS'], advertisedUrl: 'PROFILES_ADVERTISED_URL' },
  { name: 'metrics', port: 3004, kind: 'StatefulSet', secretVars: ['KPI_PEER_KEYS'], advertisedUrl: 'KPI_ADVERTISED_URL' },
] as const;
/** Every service runs as several pods (issue 12); the state of profiles and metrics is split into this many tasks. */
const MIN_REPLICAS = 2;
const TASKS = 6;

type EnvVar = { name: string; value?: string; valueFrom?: any };
/** Pod fields the downward API may hand a container, as the kubelet fills them in for one pod. */
type PodFields = Record<'metadata.name' | 'metadata.namespace', string>;

/**
 * The value a container gets for a variable from the ConfigMap, whether named one by one
 * (configMapKeyRef) or wholesale (envFrom configMapRef, where an explicit env entry wins).
 */
function fromConfigMap(container: any, variable: string, configMaps: readonly K8sObject[]): string | undefined {
  const data = (name: string) => configMaps.find((c) => c.metadata.name === name)?.data as Record<string, string> | undefined;
  const entry = ((container.env ?? []) as EnvVar[]).find((e) => e.name === variable);
  if (entry) {
    const ref = entry.valueFrom?.configMapKeyRef as { name: string; key: string } | undefined;
    return ref ? data(ref.name)?.[ref.key] : entry.value;
  }
  for (const from of (container.envFrom ?? []) as Array<{ configMapRef?: { name: string }; prefix?: string }>) {
    if (from.configMapRef && !from.prefix) {
      const value = data(from.configMapRef.name)?.[variable];
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

/** The number of a probe's port: a number, or the name of one of the container's ports. */
function probePort(container: any, probe: { httpGet: { port: number | string } }): number | undefined {
  const port = probe.httpGet.port;
  return typeof port === 'number' ? port : (container.ports as Array<{ name: string; containerPort: number }>).find((p) => p.name === port)?.containerPort;
}

/**
 * A container's environment as the kubelet builds it for one pod: downward-API fields filled in,
 * `$(VAR)` replaced by a variable defined EARLIER in the list (a later or unknown one stays as written,
 * as Kubernetes leaves it), other sources left out.
 */
function expandEnv(env: readonly EnvVar[], pod: PodFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const field = e.valueFrom?.fieldRef?.fieldPath as keyof PodFields | undefined;
    if (field !== undefined) out[e.name] = pod[field];
    else if (e.value !== undefined) out[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, name: string) => out[name] ?? ref);
  }
  return out;
}

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

  describe.each(SERVICES)('$name', ({ name, port, kind, secretVars, advertisedUrl }) => {
    const workload = find(kind, name)!;
    const pod = workload?.spec.template.spec;
    const container = pod?.containers[0];
    const podLabels = workload?.spec.template.metadata.labels;
    const env = (container?.env ?? []) as EnvVar[];
    /** Variables the pod gets from the downward API, only to build the advertised URL from. */
    const podFieldVars = env.filter((e) => e.valueFrom?.fieldRef).map((e) => e.name);

    it(`is a ${kind} of ${MIN_REPLICAS} or more pods whose selector matches its pods`, () => {
      expect(workload).toBeDefined();
      expect(podLabels).toMatchObject(workload.spec.selector.matchLabels);
      expect(workload.spec.replicas).toBeGreaterThanOrEqual(MIN_REPLICAS);
      if (kind === 'StatefulSet') {
        // More pods than tasks would sit idle.
        expect(workload.spec.replicas).toBeLessThanOrEqual(TASKS);
        expect(find('Service', workload.spec.serviceName)?.spec.clusterIP).toBe('None');
      }
    });

    if (advertisedUrl === undefined) {
      it('advertises no address (it routes no reads) and reads no pod fields', () => {
        expect(env.filter((e) => e.name.endsWith('_ADVERTISED_URL'))).toEqual([]);
        expect(podFieldVars).toEqual([]);
      });
    } else {
      it(`gives each pod its own ${advertisedUrl}: its DNS name under the headless Service, on the HTTP port`, () => {
        const headless = find('Service', workload.spec.serviceName)!;
        const namespace = 'cdp-prod';
        const urls = Array.from({ length: workload.spec.replicas as number }, (_, ordinal) => {
          const pod = `${workload.metadata.name}-${ordinal}`;
          const url = expandEnv(env, { 'metadata.name': pod, 'metadata.namespace': namespace })[advertisedUrl];
          // A StatefulSet's pod <name>-<ordinal> is <pod>.<serviceName>.<namespace>.svc in cluster DNS.
          expect({ pod, url }).toEqual({ pod, url: `http://${pod}.${headless.metadata.name}.${namespace}.svc:${port}` });
          return url;
        });
        expect(new Set(urls).size).toBe(urls.length);
        // The headless Service resolves every pod of the StatefulSet, also before it is Ready, on that port.
        expect(podLabels).toMatchObject(headless.spec.selector);
        expect(headless.spec.publishNotReadyAddresses).toBe(true);
        expect(headless.spec.ports).toEqual([{ name: 'http', port, targetPort: 'http' }]);
      });

      it(`declares ${advertisedUrl} in its config.ts and documents it`, () => {
        expect(readFileSync(join(ROOT, 'apps', name, 'src/config.ts'), 'utf8')).toMatch(new RegExp(`^\\s*${advertisedUrl}: z\\.`, 'm'));
        expect(documentedVariables(name).has(advertisedUrl)).toBe(true);
      });

      it("starts its pods together, updates them one at a time and drops a scaled-away pod's claim", () => {
        expect(workload.spec.podManagementPolicy).toBe('Parallel');
        expect(workload.spec.updateStrategy).toEqual({ type: 'RollingUpdate' });
        expect(workload.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenScaled: 'Delete', whenDeleted: 'Retain' });
      });
    }

    it('serves HTTP on its configured port, probed on /health/live and /health/ready', () => {
      const source = readFileSync(join(ROOT, 'apps', name, 'src/config.ts'), 'utf8');
      expect(source).toContain(`HTTP_PORT: baseConfigShape.HTTP_PORT.default(${port})`);
      expect(container.ports).toContainEqual({ name: 'http', containerPort: port });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      // SIGTERM: the service exits within SHUTDOWN_TIMEOUT_MS (15 s); the pod must wait longer.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(15);
    });

    it('runs as production and serves /metrics on the port Prometheus is told to scrape (HTTP_INTERNAL_PORT)', () => {
      const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
      expect(fromConfigMap(container, 'CDP_ENV', configMaps)).toBe('production');
      const internal = fromConfigMap(container, 'HTTP_INTERNAL_PORT', configMaps);
      // Unset, the service opens no internal listener and /metrics is 404 on the public port in production.
      expect(internal).toMatch(/^\d+$/);
      expect(Number(internal)).not.toBe(port);
      const annotations = workload.spec.template.metadata.annotations as Record<string, string>;
      expect(annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': internal, 'prometheus.io/path': '/metrics' });
      expect(container.ports).toEqual([
        { name: 'http', containerPort: port },
        { name: 'internal', containerPort: Number(internal) },
      ]);
    });

    it('probes a port the container answers them on: the public one, whose /health/live and /health/ready stay open in production', () => {
      // Both listeners serve /health/live and /health/ready (health.ts on the public port, status only
      // in production; internal-server.ts with details); the probes take the public one, like a load balancer.
      for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) expect(probePort(container, probe)).toBe(port);
      const platform = (file: string) => readFileSync(join(ROOT, 'libs/nest-platform/src', file), 'utf8');
      expect(platform('health.ts')).toMatch(/@Controller\('health'\)[\s\S]*@Get\('live'\)[\s\S]*@Get\('ready'\)/);
      expect(platform('platform.module.ts')).toMatch(/controllers:[^\]]*HealthController/);
    });

    it('has a Service and a PodDisruptionBudget that select its pods', () => {
      const service = find('Service', name)!;
      expect(podLabels).toMatchObject(service.spec.selector);
      expect(service.spec.ports).toEqual([{ name: 'http', port, targetPort: 'http' }]);
      const pdb = find('PodDisruptionBudget', name)!;
      expect(podLabels).toMatchObject(pdb.spec.selector.matchLabels);
      // A drain may evict a pod (never blocked for good) but always leaves others serving.
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.minAvailable).toBeUndefined();
      expect(workload.spec.replicas).toBeGreaterThan(pdb.spec.maxUnavailable);
    });

    it('spreads its pods over the nodes', () => {
      expect(pod.topologySpreadConstraints).toEqual([expect.objectContaining({ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } } })]);
    });

    it('requests CPU and memory and limits memory', () => {
      expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      expect(container.resources.limits.memory).toEqual(expect.any(String));
    });

    it('caps the V8 heap at half its memory limit or less (the rest holds native memory and the page cache)', () => {
      const options = env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
      const heapMb = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);
      const limit = /^(\d+)(Mi|Gi)$/.exec(container.resources.limits.memory as string);
      expect(limit).not.toBeNull();
      const limitMb = Number(limit![1]) * (limit![2] === 'Gi' ? 1024 : 1);
      expect(heapMb).toBeGreaterThanOrEqual(128);
      expect(heapMb).toBeLessThanOrEqual(limitMb / 2);
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
      // NODE_OPTIONS is Node's own, not the service's: the heap cap, checked on its own below.
      const own = env.filter((e) => !podFieldVars.includes(e.name) && e.name !== 'NODE_OPTIONS');
      for (const e of own) expect([e.name, documented.has(e.name)]).toEqual([e.name, true]);
      // No literal settings, except the advertised URL, which is built from the pod's own fields only.
      for (const e of own.filter((v) => v.name !== advertisedUrl)) expect([e.name, e.value]).toEqual([e.name, undefined]);
      for (const ref of (env.find((e) => e.name === advertisedUrl)?.value ?? '').matchAll(/\$\(([^)]+)\)/g)) expect(podFieldVars).toContain(ref[1]);
      for (const e of env.filter((v) => podFieldVars.includes(v.name))) expect(e.valueFrom.fieldRef.fieldPath).toMatch(/^metadata\.(name|namespace)$/);
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
