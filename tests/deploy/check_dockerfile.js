#!/usr/bin/env node
// Part of ctest deploy_dockerfile (after the two linters in dockerfile.sh):
// what the Dockerfile promises, read from its syntax tree (dockerfile-ast,
// the parser of dockerfile-utils). No Docker engine runs here, so this checks
// the file, and ctest deploy_ldd checks that the runtime package list matches
// the binary.
//
// usage: node check_dockerfile.js DOCKERFILE INSTALL_DEPS_SH GRAVITAS_BINARY
"use strict";
const fs = require("fs");
const { execFileSync } = require("child_process");
const { DockerfileParser } = require("dockerfile-ast");

const [file, depsScript, binary] = process.argv.slice(2);
if (!file || !depsScript || !binary) {
  console.error("usage: check_dockerfile.js DOCKERFILE INSTALL_DEPS_SH GRAVITAS_BINARY");
  process.exit(2);
}
let passes = 0, failures = 0;
function check(ok, what) {
  if (ok) passes++;
  else { failures++; console.log(`FAIL ${what}`); }
  return ok;
}

const df = DockerfileParser.parse(fs.readFileSync(file, "utf8"));
// Split the instructions into stages at each FROM.
const stages = [];
for (const ins of df.getInstructions()) {
  const kw = ins.getKeyword();
  if (kw === "FROM") stages.push({ from: ins, ins: [] });
  else if (stages.length) stages[stages.length - 1].ins.push(ins);
  else check(kw === "ARG", `${kw} before the first FROM`);
}
const args = (i) => i.getArguments().map((a) => a.getValue());
const text = (i) => (i.getArgumentsContent() || "").replace(/\\\n/g, " ");
const all = (st, kw) => st.ins.filter((i) => i.getKeyword() === kw);

check(stages.length === 2, `two stages (got ${stages.length})`);
for (const s of stages)
  check(s.from.getImageName() === "debian" && s.from.getImageTag() === "12-slim",
        `stage ${s.from.getBuildStage()} is FROM debian:12-slim`);
const build = stages[0], run = stages[stages.length - 1];
const buildName = build.from.getBuildStage();
check(buildName && buildName !== run.from.getBuildStage(), "the build stage is named");

// Build stage: the same dependency script as `make` (no --runtime).
check(all(build, "RUN").some((r) => /\bdeploy\/install-deps\.sh\b(?!\s+--)/.test(text(r))),
      "the build stage runs deploy/install-deps.sh (as make does)");
check(all(build, "COPY").some((c) => args(c).includes("deploy/install-deps.sh")),
      "the build stage copies deploy/install-deps.sh");
check(!all(build, "COPY").some((c) => args(c)[0] === "." ),
      "the build stage copies sources, not the whole context (no local build/)");

// Runtime stage: packages only from install-deps.sh --runtime.
const runs = all(run, "RUN").map(text);
check(runs.some((r) => /install-deps\.sh\s+--runtime\b/.test(r)),
      "the runtime stage runs install-deps.sh --runtime");
check(!runs.some((r) => /\b(apt-get|apt|dpkg|aptitude)\s+(-\S+\s+)*install\b/.test(r)),
      "the runtime stage installs no package beyond install-deps.sh --runtime");
const runtimeList = execFileSync("bash", ["-c",
  `eval "$(sed -n '/^runtime=(/,/)/p' "$1")"; printf '%s\\n' "\${runtime[@]}"`, "_", depsScript],
  { encoding: "utf8" }).split("\n").filter(Boolean);
check(runtimeList.includes("curl"), "curl (the HEALTHCHECK) is in the runtime list");

// Runtime stage contents: the binary, data/ and openapi.yaml from the build
// stage, and nothing else from the build context but the deps script.
const copies = all(run, "COPY").map((c) => {
  const from = (c.getFlags().find((f) => f.getName() === "from") || null);
  const a = args(c).filter((x) => !x.startsWith("--"));
  return { from: from && from.getValue(), src: a.slice(0, -1), dst: a[a.length - 1] };
});
const fromBuild = copies.filter((c) => c.from === buildName);
const others = copies.filter((c) => c.from !== buildName);
check(others.every((c) => c.src.length === 1 && c.src[0] === "deploy/install-deps.sh"),
      `the runtime stage copies only deploy/install-deps.sh from the context (got ${JSON.stringify(others)})`);
const srcs = fromBuild.flatMap((c) => c.src.map((s) => s.replace(/\/$/, "").split("/").pop())).sort();
check(JSON.stringify(srcs) === JSON.stringify(["data", "gravitas", "openapi.yaml"]),
      `the runtime stage takes exactly the binary, data/ and openapi.yaml (got ${srcs})`);
const binCopy = fromBuild.find((c) => c.src.some((s) => s.endsWith("/gravitas")));

// Environment.
const env = {};
for (const e of all(run, "ENV"))
  for (const p of e.getProperties()) env[p.getName()] = p.getValue();
check(env.GRAVITAS_HOST === "0.0.0.0", "GRAVITAS_HOST=0.0.0.0 (listens on all interfaces in the container)");
const help = execFileSync(binary, ["--help"], { encoding: "utf8" });
const settings = new Set([...help.matchAll(/env (GRAVITAS_[A-Z_]+)/g)].map((m) => m[1]));
for (const k of Object.keys(env).filter((k) => k.startsWith("GRAVITAS_")))
  check(settings.has(k), `ENV ${k} is a setting of gravitas --help`);
const openapiCopy = fromBuild.find((c) => c.src.some((s) => s.endsWith("openapi.yaml")));
check(openapiCopy && env.GRAVITAS_OPENAPI === openapiCopy.dst,
      "GRAVITAS_OPENAPI names the copied openapi.yaml");

// Port, volume, user, healthcheck, entrypoint.
const port = env.GRAVITAS_PORT || "8080";
check(all(run, "EXPOSE").some((e) => args(e).some((a) => a.split("/")[0] === "8080")) && port === "8080",
      "EXPOSE 8080, the port the server listens on");
const volumes = all(run, "VOLUME").flatMap((v) => {
  const t = text(v).trim();
  return t.startsWith("[") ? JSON.parse(t) : t.split(/\s+/);
});
check(env.GRAVITAS_DATA_DIR && volumes.includes(env.GRAVITAS_DATA_DIR),
      `a VOLUME for GRAVITAS_DATA_DIR (${env.GRAVITAS_DATA_DIR})`);
const users = all(run, "USER").map((u) => args(u)[0]);
const user = users[users.length - 1] || "";
check(/^[1-9][0-9]*(:[1-9][0-9]*)?$/.test(user),
      `the last USER is a numeric non-root uid[:gid] (got '${user}'), so runAsNonRoot can verify it`);
const hcs = all(run, "HEALTHCHECK");
check(hcs.length === 1 && /curl\b.*\/healthz\b/.test(text(hcs[0])),
      "a HEALTHCHECK that curls /healthz");
const eps = all(run, "ENTRYPOINT");
const ep = eps.length && text(eps[eps.length - 1]).trim();
check(ep && ep.startsWith("[") && binCopy && JSON.parse(ep)[0] === binCopy.dst,
      "ENTRYPOINT is the exec form of the copied binary (it gets SIGTERM as PID 1)");
const stop = all(run, "STOPSIGNAL").map((s) => args(s)[0]);
check(stop.length === 0 || stop[stop.length - 1] === "SIGTERM", "STOPSIGNAL is SIGTERM");

console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
