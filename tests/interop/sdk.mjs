// Runs the official Cloudflare SDK for JavaScript (npm `cloudflare`) against an imagegate
// server, one call per line, so that tests/test_sdk_node.py can drive it step by step.
//
//   CLOUDFLARE_SDK_DIR=DIR node sdk.mjs < calls.jsonl
//
// DIR holds node_modules/cloudflare. The first input line configures the client as its users
// do: {"baseURL": "http://127.0.0.1:PORT", "apiToken": "..."} (no retries, so that every
// answer is the server's first). Every further line is a call:
//
//   {"method": "images.v1.create", "args": [{"account_id": "...", "file": {"$file": {...}}}],
//    "mode": "await" | "page" | "iterate"}
//
// where {"$file": {"base64", "name", "type"}} becomes the SDK's own toFile(...). Each call
// answers one line: {"value": ...} or {"error": {...}}, and "exchanges", the HTTP requests
// the call made and their answers (for the report when something fails).
//
// Values are what the SDK returns, as its users see them: a plain object for a JSON result,
// for a blob the Response's status, type and bytes, for "page" the awaited page object (its
// class, result, result_info, getPaginatedItems() and hasNextPage()), for "iterate" the items
// of a `for await` over the unawaited call (the SDK's auto-pagination, at most 1000).
// Errors are the SDK's own classes (NotFoundError, BadRequestError, ...).
//
// {"describe": "images"} answers the dotted names of every method under client.images.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { join } from "node:path";

const dir = process.env.CLOUDFLARE_SDK_DIR;
if (!dir) {
  process.stderr.write("usage: CLOUDFLARE_SDK_DIR=DIR node sdk.mjs < calls.jsonl\n");
  process.exit(2);
}
// Node 18 has File only in node:buffer; the SDK's own error message says to do this.
globalThis.File ??= (await import("node:buffer")).File;
const load = createRequire(join(dir, "package.json"));
const sdk = load("cloudflare");
const { APIResource } = load("cloudflare/resource");
const { Cloudflare, toFile } = sdk;

// Every HTTP exchange the SDK makes goes through the global fetch; keep a short record of each.
const exchanges = [];
const realFetch = globalThis.fetch;
const snippet = (text) => (text.length > 600 ? `${text.slice(0, 600)}...` : text);
globalThis.fetch = async (input, init = {}) => {
  const body = init.body;
  const entry = {
    method: init.method ?? "GET",
    url: String(input instanceof Request ? input.url : input),
    contentType: new Headers(init.headers).get("content-type"),
    body:
      typeof body === "string"
        ? snippet(body)
        : body instanceof FormData
          ? [...body.entries()].map(([k, v]) => (typeof v === "string" ? `${k}=${v}` : `${k}=<file>`))
          : null,
  };
  exchanges.push(entry);
  const response = await realFetch(input, init);
  entry.status = response.status;
  const type = response.headers.get("content-type") ?? "";
  entry.answer = type.startsWith("image/") ? `<${type}>` : snippet(await response.clone().text());
  return response;
};

async function decode(value) {
  if (Array.isArray(value)) return Promise.all(value.map(decode));
  if (value && typeof value === "object") {
    if ("$file" in value) {
      const { base64, name, type } = value.$file;
      return toFile(Buffer.from(base64, "base64"), name, type ? { type } : undefined);
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = await decode(v);
    return out;
  }
  return value;
}

function resolve(client, dotted) {
  const names = dotted.split(".");
  const method = names.pop();
  let owner = client;
  for (const name of names) owner = owner[name];
  if (typeof owner?.[method] !== "function") throw new Error(`no SDK method ${dotted}`);
  return [owner, method];
}

async function encode(value) {
  if (value instanceof Response) {
    const bytes = Buffer.from(await value.arrayBuffer());
    return {
      $response: {
        status: value.status,
        type: value.headers.get("content-type"),
        base64: bytes.toString("base64"),
      },
    };
  }
  return value === undefined ? null : value;
}

async function run(client, call) {
  const [owner, method] = resolve(client, call.method);
  const args = await decode(call.args ?? []);
  const mode = call.mode ?? "await";
  if (mode === "iterate") {
    const items = [];
    for await (const item of owner[method](...args)) {
      items.push(item);
      if (items.length >= 1000) break;
    }
    return items;
  }
  const value = await owner[method](...args);
  if (mode === "page") {
    return {
      class: value.constructor.name,
      result: value.result,
      result_info: value.result_info,
      items: value.getPaginatedItems(),
      hasNextPage: value.hasNextPage(),
    };
  }
  return encode(value);
}

// Every method of a resource and of the resources under it, by dotted name.
function methods(resource, prefix) {
  const found = [];
  for (let proto = Object.getPrototypeOf(resource); proto; proto = Object.getPrototypeOf(proto)) {
    if (proto === APIResource.prototype) break;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name !== "constructor" && !name.startsWith("_") && typeof resource[name] === "function") {
        found.push(`${prefix}.${name}`);
      }
    }
  }
  for (const [name, child] of Object.entries(resource)) {
    if (!name.startsWith("_") && child instanceof APIResource) {
      found.push(...methods(child, `${prefix}.${name}`));
    }
  }
  return [...new Set(found)].sort();
}

function described(error) {
  return {
    class: error?.constructor?.name ?? typeof error,
    isCloudflareError: error instanceof sdk.CloudflareError,
    status: error?.status ?? null,
    errors: error?.errors ?? null,
    message: String(error?.message ?? error),
  };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
let client = null;
for await (const line of lines) {
  if (!line.trim()) continue;
  const message = JSON.parse(line);
  if (client === null) {
    client = new Cloudflare({ baseURL: message.baseURL, apiToken: message.apiToken, maxRetries: 0 });
    process.stdout.write(`${JSON.stringify({ ready: sdk.Cloudflare.name })}\n`);
    continue;
  }
  if (message.describe) {
    const names = methods(client[message.describe], message.describe);
    process.stdout.write(`${JSON.stringify({ value: names })}\n`);
    continue;
  }
  exchanges.length = 0;
  let answer;
  try {
    answer = { value: await run(client, message) };
  } catch (error) {
    answer = { error: described(error) };
  }
  answer.exchanges = exchanges.slice();
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
