// Offline schema check of Kubernetes manifests (tests/k8s/README.md):
//   node validate.mjs FILE.yaml...
// Every document is checked twice: against the OpenAPI schema of its kind at run time
// (kubernetes-models' validate(): types, required fields, enums, formats), and by a TypeScript
// type-check of the document as an object literal of the kind's interface, which is what
// rejects unknown fields (the run-time schemas allow them). Exit 0 when every document passes,
// 1 with one line per finding otherwise, 2 on usage errors.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));

// apiVersion -> the module that holds its kinds (models and I<Kind> interfaces).
function moduleOf(apiVersion) {
  if (apiVersion === "cert-manager.io/v1") return "@kubernetes-models/cert-manager/cert-manager.io/v1";
  if (/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion)) return `kubernetes-models/${apiVersion}`;
  return null;
}

function load(files) {
  const docs = [];
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    parseAllDocuments(text).forEach((d, i) => {
      const where = `${file}#${i}`;
      if (d.errors.length) throw new Error(`${where}: YAML: ${d.errors[0].message}`);
      const value = d.toJS();
      if (value !== null && value !== undefined) docs.push({ where, value });
    });
  }
  return docs;
}

async function runtimeCheck(doc, findings) {
  const { apiVersion, kind } = doc.value;
  const mod = moduleOf(String(apiVersion));
  if (!mod) return findings.push(`${doc.where}: unknown apiVersion ${apiVersion}`);
  let models;
  try {
    models = await import(mod);
  } catch (e) {
    return findings.push(`${doc.where}: no schemas for apiVersion ${apiVersion}`);
  }
  const Model = models[kind];
  if (typeof Model !== "function") return findings.push(`${doc.where}: unknown kind ${apiVersion} ${kind}`);
  try {
    new Model(doc.value).validate();
  } catch (e) {
    findings.push(`${doc.where} (${kind} ${doc.value.metadata?.name}): schema: ${e.message}`);
  }
}

function typeCheck(docs, findings) {
  const dir = fs.mkdtempSync(path.join(here, ".check-"));
  try {
    const lines = [];
    docs.forEach((doc, i) => {
      const mod = moduleOf(String(doc.value.apiVersion));
      if (!mod || !/^[A-Za-z]+$/.test(String(doc.value.kind))) return;
      lines.push(`import type { I${doc.value.kind} as T${i} } from "${mod}";`);
      lines.push(`// ${doc.where}`);
      lines.push(`export const d${i}: T${i} = ${JSON.stringify(doc.value, null, 2)};`);
    });
    const file = path.join(dir, "manifests.mts");
    fs.writeFileSync(file, lines.join("\n") + "\n");
    const program = ts.createProgram([file], {
      noEmit: true, strict: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
    });
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      let at = "";
      if (d.file && d.start !== undefined) {
        const { line } = d.file.getLineAndCharacterOfPosition(d.start);
        const src = d.file.text.split("\n");
        let k = line;
        while (k >= 0 && !src[k].startsWith("// ")) k--;
        at = (k >= 0 ? src[k].slice(3) : "?") + `: line ${line + 1}: `;
      }
      findings.push(`${at}type: ${msg}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE.yaml...");
  process.exit(2);
}
const findings = [];
let docs;
try {
  docs = load(files);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
if (docs.length === 0) findings.push("no documents to check");
for (const d of docs) await runtimeCheck(d, findings);
typeCheck(docs, findings);
for (const f of findings) console.log(f);
console.log(`${docs.length} documents, ${findings.length} findings`);
process.exit(findings.length ? 1 : 0);
