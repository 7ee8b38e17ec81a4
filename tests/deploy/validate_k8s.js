#!/usr/bin/env node
// ctest deploy_k8s: validates deploy/k8s/ (every resource that
// kustomization.yaml lists) in three ways.
//
// 1. Schema: each object against the Kubernetes 1.27 OpenAPI schema of its
//    apiVersion/kind, with kubernetes-models' validate() (ajv over the
//    upstream OpenAPI definitions): types, required fields, enums, formats.
// 2. Unknown fields: those schemas accept unknown properties (as a
//    non-strict apiserver would), so each object is also type-checked by the
//    TypeScript compiler against kubernetes-models' interfaces, whose excess
//    property check rejects any field the API does not have (a typo such as
//    `readinesProbe` would otherwise be dropped silently by the cluster).
// 3. Gravitas policy: probes on /healthz and /readyz, requests and limits,
//    the restrictive securityContext, one replica on the ReadWriteOnce PVC
//    (SQLite is single-writer), the Service, HPA and PDB select the
//    Deployment's pods, the ConfigMap holds only real GRAVITAS_* settings,
//    the API keys file comes from the Secret; and the real binary starts with
//    the ConfigMap's settings and the Secret's keys file, answers /readyz,
//    refuses an unauthenticated write and exits 0 on SIGTERM.
//
// usage: node validate_k8s.js K8S_DIR GRAVITAS_BINARY OPENAPI_YAML
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const http = require("http");
const { spawn, execFileSync } = require("child_process");
const YAML = require("yaml");
const ts = require("typescript");

const [dir, binary, openapi] = process.argv.slice(2);
if (!dir || !binary || !openapi) {
  console.error("usage: validate_k8s.js K8S_DIR GRAVITAS_BINARY OPENAPI_YAML");
  process.exit(2);
}

let failures = 0;
let passes = 0;
function check(ok, what) {
  if (ok) {
    passes++;
  } else {
    failures++;
    console.log(`FAIL ${what}`);
  }
  return ok;
}

// kubectl reads manifests as YAML 1.1 (go-yaml): `defaultMode: 0440` is
// octal there, and so here.
function parseYaml(file) {
  const text = fs.readFileSync(file, "utf8");
  const docs = YAML.parseAllDocuments(text, { version: "1.1" });
  const out = [];
  docs.forEach((doc, i) => {
    const bad = [...doc.errors, ...doc.warnings];
    if (bad.length) check(false, `${path.basename(file)}: YAML: ${bad[0].message}`);
    const obj = doc.toJS();
    if (obj !== null && obj !== undefined)
      out.push({ file: path.basename(file), index: i, obj, text });
  });
  return out;
}

// ---- resources listed by kustomization.yaml --------------------------------
const kust = parseYaml(path.join(dir, "kustomization.yaml"))[0].obj;
check(kust.apiVersion === "kustomize.config.k8s.io/v1beta1" &&
      kust.kind === "Kustomization", "kustomization.yaml: a Kustomization");
const listed = kust.resources || [];
const onDisk = fs.readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml").sort();
check(JSON.stringify([...listed].sort()) === JSON.stringify(onDisk),
      `kustomization.yaml resources ${JSON.stringify(listed)} are the ` +
      `manifests in the folder ${JSON.stringify(onDisk)}`);
check((kust.images || []).some((i) => i.name === "gravitas"),
      "kustomization.yaml sets the gravitas image");

const objects = [];
for (const f of listed) objects.push(...parseYaml(path.join(dir, f)));
const where = (o) => `${o.file}#${o.index} ${o.obj.kind}/${o.obj.metadata?.name}`;

// ---- 1. schema --------------------------------------------------------------
function modelModule(o) {
  return `kubernetes-models/${o.obj.apiVersion}/${o.obj.kind}`;
}
for (const o of objects) {
  let Model;
  try {
    Model = require(modelModule(o))[o.obj.kind];
  } catch (e) {
    check(false, `${where(o)}: no Kubernetes schema for ${o.obj.apiVersion} ${o.obj.kind}`);
    continue;
  }
  try {
    new Model(o.obj).validate();
    check(true);
  } catch (e) {
    check(false, `${where(o)}: schema: ${e.message}`);
  }
}

// ---- 2. unknown fields (TypeScript excess property check) -------------------
{
  const here = __dirname;
  const virtual = path.join(here, "__gravitas_manifests__.ts");
  const lines = [];
  const spans = [];
  objects.forEach((o, i) => {
    lines.push(`import type { I${o.obj.kind} as T${i} } from "${modelModule(o)}";`);
    const start = lines.length + 1;
    const body = `export const o${i}: T${i} = ${JSON.stringify(o.obj, null, 1)};`;
    lines.push(...body.split("\n"));
    spans.push({ start, end: lines.length, o });
  });
  const source = lines.join("\n") + "\n";
  const options = {
    noEmit: true, strict: true, target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
    types: [], skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => name === virtual
    ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtual || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === virtual ? source : readFile(name));
  const program = ts.createProgram([virtual], options, host);
  const diags = ts.getPreEmitDiagnostics(program);
  for (const d of diags) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    let at = "";
    if (d.file && d.start !== undefined) {
      const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1;
      const s = spans.find((x) => line >= x.start && line <= x.end);
      if (s) at = `${where(s.o)}: `;
    }
    check(false, `${at}type check: ${msg}`);
  }
  check(diags.length === 0, "manifests type-check against the Kubernetes API types");
}

// ---- 3. Gravitas policy ------------------------------------------------------
const of = (kind) => objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
const [dep] = of("Deployment");
const [svc] = of("Service");
const [hpa] = of("HorizontalPodAutoscaler");
const [pdb] = of("PodDisruptionBudget");
const [cm] = of("ConfigMap");
const [secret] = of("Secret");
const pvcs = of("PersistentVolumeClaim");
for (const [k, v] of Object.entries({ Deployment: dep, Service: svc,
  HorizontalPodAutoscaler: hpa, PodDisruptionBudget: pdb, ConfigMap: cm, Secret: secret }))
  check(v !== undefined, `a ${k} is defined`);
if (!(dep && svc && hpa && pdb && cm && secret)) {
  console.log(`${passes} passed, ${failures} failed`);
  process.exit(1);
}
check(hpa.apiVersion === "autoscaling/v2", "HPA is autoscaling/v2");
check(pdb.apiVersion === "policy/v1", "PDB is policy/v1");

const pod = dep.spec.template.spec;
const podLabels = dep.spec.template.metadata.labels || {};
const selects = (sel) => sel && Object.keys(sel).length > 0 &&
  Object.entries(sel).every(([k, v]) => podLabels[k] === v);
check(selects(dep.spec.selector.matchLabels), "Deployment selector matches its pod labels");
check(pod.containers.length === 1, "one container");
const c = pod.containers[0];
const cfg = cm.data || {};

// Probes.
const probePath = (p) => p && p.httpGet && p.httpGet.path;
check(probePath(c.livenessProbe) === "/healthz", "liveness probe is GET /healthz");
check(probePath(c.readinessProbe) === "/readyz", "readiness probe is GET /readyz");
const portNames = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
const portNumbers = new Set((c.ports || []).map((p) => p.containerPort));
const portOk = (p) => (typeof p === "number" ? portNumbers.has(p) : portNames.has(p));
for (const [n, p] of [["liveness", c.livenessProbe], ["readiness", c.readinessProbe],
  ["startup", c.startupProbe]])
  if (p) check(portOk(p.httpGet.port), `${n} probe port ${p.httpGet.port} is a container port`);
check(portNumbers.has(Number(cfg.GRAVITAS_PORT)),
      `container port is GRAVITAS_PORT (${cfg.GRAVITAS_PORT})`);
check(cfg.GRAVITAS_HOST === "0.0.0.0", "GRAVITAS_HOST is 0.0.0.0");

// Resources.
for (const k of ["requests", "limits"])
  for (const r of ["cpu", "memory"])
    check(c.resources && c.resources[k] && c.resources[k][r] !== undefined,
          `resources.${k}.${r} is set`);

// Security context (container level, or pod level where Kubernetes allows).
const csc = c.securityContext || {};
const psc = pod.securityContext || {};
check((csc.runAsNonRoot ?? psc.runAsNonRoot) === true, "runAsNonRoot: true");
const uid = csc.runAsUser ?? psc.runAsUser;
check(uid === undefined || uid !== 0, "runAsUser is not 0");
check(csc.readOnlyRootFilesystem === true, "readOnlyRootFilesystem: true");
check(csc.allowPrivilegeEscalation === false, "allowPrivilegeEscalation: false");
check(csc.privileged !== true, "not privileged");
check((csc.capabilities?.drop || []).includes("ALL"), "capabilities drop ALL");
check(!(csc.capabilities?.add || []).length, "no capability added");
check((csc.seccompProfile?.type ?? psc.seccompProfile?.type) === "RuntimeDefault",
      "seccompProfile RuntimeDefault");
check(pod.automountServiceAccountToken === false, "no service account token mounted");
check(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC, "no host namespaces");

// Storage: the data directory is a volume; SQLite is single-writer.
const mounts = c.volumeMounts || [];
const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
const dataMount = mounts.find((m) => m.mountPath === cfg.GRAVITAS_DATA_DIR);
check(dataMount !== undefined, `a volume is mounted at GRAVITAS_DATA_DIR (${cfg.GRAVITAS_DATA_DIR})`);
const dataVol = dataMount && volumes.get(dataMount.name);
if (dataVol && dataVol.persistentVolumeClaim) {
  const claim = pvcs.find((p) => p.metadata.name === dataVol.persistentVolumeClaim.claimName);
  check(claim !== undefined, "the data PVC is defined");
  check(dep.spec.replicas === 1, "one replica on the PVC (SQLite is single-writer)");
  check(dep.spec.strategy?.type === "Recreate",
        "strategy Recreate: two pods never open the database at once");
  check(hpa.spec.maxReplicas === 1, "HPA maxReplicas 1 while the store is one SQLite file");
} else {
  check(dataVol && dataVol.emptyDir, "the data volume is a PVC or a per-pod emptyDir");
}
const tmpMount = mounts.find((m) => m.mountPath === "/tmp");
check(tmpMount && volumes.get(tmpMount.name)?.emptyDir,
      "/tmp is a writable emptyDir (read-only root filesystem)");

// Configuration: a ConfigMap of real settings; keys from the Secret.
check(c.envFrom?.some((e) => e.configMapRef?.name === cm.metadata.name),
      "the container takes its environment from the ConfigMap");
const help = execFileSync(binary, ["--help"], { encoding: "utf8" });
const settings = new Set([...help.matchAll(/env (GRAVITAS_[A-Z_]+)/g)].map((m) => m[1]));
check(settings.size > 10, `gravitas --help lists its settings (${settings.size})`);
for (const k of Object.keys(cfg))
  check(settings.has(k), `ConfigMap key ${k} is a setting of gravitas --help`);
check(!("GRAVITAS_API_KEYS" in cfg), "no API key in the ConfigMap");
const keysFile = cfg.GRAVITAS_API_KEYS_FILE;
let secretKey;
if (check(typeof keysFile === "string", "GRAVITAS_API_KEYS_FILE is set")) {
  const m = mounts.find((x) => keysFile.startsWith(x.mountPath.replace(/\/?$/, "/")));
  const v = m && volumes.get(m.name);
  check(v && v.secret && v.secret.secretName === secret.metadata.name,
        "GRAVITAS_API_KEYS_FILE lies in the mounted Secret");
  check(m && m.readOnly === true, "the Secret is mounted read-only");
  secretKey = m && keysFile.slice(m.mountPath.replace(/\/?$/, "/").length);
  const data = { ...(secret.stringData || {}) };
  for (const [k, b64] of Object.entries(secret.data || {}))
    data[k] = Buffer.from(b64, "base64").toString("utf8");
  check(secretKey in data, `the Secret has the key ${secretKey}`);
  secretKey = data[secretKey];
  const secretText = objects.find((o) => o.obj === secret).text;
  check(/EXAMPLE/.test(secretText), "secret.yaml marks its key as an EXAMPLE placeholder");
}

// Service, HPA, PDB point at the Deployment's pods.
check(selects(svc.spec.selector), "Service selector matches the pod labels");
for (const p of svc.spec.ports)
  check(portOk(p.targetPort), `Service targetPort ${p.targetPort} is a container port`);
const ref = hpa.spec.scaleTargetRef;
check(ref.apiVersion === "apps/v1" && ref.kind === "Deployment" && ref.name === dep.metadata.name,
      "HPA scales the Deployment");
check((hpa.spec.minReplicas ?? 1) <= hpa.spec.maxReplicas, "HPA minReplicas <= maxReplicas");
check(hpa.spec.metrics?.some((m) => m.type === "Resource" &&
      m.resource.target.type === "Utilization") && c.resources?.requests?.cpu !== undefined,
      "HPA CPU utilisation target with a CPU request to measure against");
check(selects(pdb.spec.selector?.matchLabels), "PDB selector matches the pod labels");
check(pdb.spec.minAvailable === undefined || pdb.spec.minAvailable < dep.spec.replicas,
      "PDB minAvailable leaves node drains possible");

// ---- the real binary with these settings --------------------------------------
function get(port, p, method = "GET") {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, method, timeout: 2000 },
      (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
    req.on("error", () => resolve(0));
    req.on("timeout", () => { req.destroy(); resolve(0); });
    req.end(method === "POST" ? "{}" : undefined);
  });
}
async function smoke() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gravitas-k8s-"));
  const keyPath = path.join(tmp, "keys");
  fs.writeFileSync(keyPath, secretKey || "");
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("GRAVITAS_")) delete env[k];
  Object.assign(env, cfg, {
    GRAVITAS_HOST: "127.0.0.1", GRAVITAS_PORT: "0",            // the test's own
    GRAVITAS_DATA_DIR: path.join(tmp, "data"),                 // mount points
    GRAVITAS_API_KEYS_FILE: keyPath, GRAVITAS_OPENAPI: openapi,
  });
  const child = spawn(binary, [], { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => child.on("exit", (code, sig) => r({ code, sig })));
  let port = 0;
  for (let i = 0; i < 100 && !port; i++) {
    const m = /"event":"listening".*?"port":(\d+)/.exec(log);
    if (m) port = Number(m[1]);
    else await new Promise((r) => setTimeout(r, 100));
  }
  if (check(port > 0, "gravitas starts with the ConfigMap's settings")) {
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = await get(port, "/readyz");
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    check(ready === 200, "GET /readyz answers 200");
    check(await get(port, "/healthz") === 200, "GET /healthz answers 200");
    check(await get(port, "/v1/datasets", "POST") === 401,
          "a write without the Secret's key is refused (401)");
  }
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
  const end = await exited;
  clearTimeout(timer);
  check(end.code === 0, `gravitas exits 0 on SIGTERM (got ${JSON.stringify(end)})`);
  if (failures) console.log(log.split("\n").slice(0, 20).join("\n"));
  fs.rmSync(tmp, { recursive: true, force: true });
}

smoke().then(() => {
  console.log(`deploy_k8s: ${objects.length} objects from ${listed.length} files ` +
              `(kubernetes-models ${require("kubernetes-models/package.json").version}, ` +
              `Kubernetes 1.27 schemas; TypeScript ${ts.version})`);
  console.log(`${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
});
