// imagegate's reference signer in JavaScript: the signing steps of Cloudflare's "Serve private
// images" document, written with what a Worker or a Node backend has at hand (the WHATWG URL and
// URLSearchParams classes, TextEncoder, and HMAC-SHA256 from WebCrypto). The expiry is an argument
// instead of "now + 1 day", so that every output can be reproduced and compared byte for byte.
//
//   node sign.mjs URL KEY EXP            prints URL signed with KEY, valid until EXP (unix seconds)
//   node sign.mjs --jsonl < cases.jsonl  reads {"url", "key", "exp", ...} lines and writes each
//                                        back with "signed" set (the other fields are kept in place)
//
// The steps are the document's, quirks included: `exp` is set with searchParams.set (an `exp` that
// is already on the URL is replaced where it stands), the string to sign is the pathname, "?" and
// the whole serialised query (so a stale `sig` already on the URL is signed too, and then
// replaced), and `sig` is appended with searchParams.set. URLSearchParams re-serialises the query
// as application/x-www-form-urlencoded: a space becomes "+", and "*-._" stay as they are.
import { createInterface } from "node:readline";
import { webcrypto } from "node:crypto";

const subtle = globalThis.crypto?.subtle ?? webcrypto.subtle;
const utf8 = new TextEncoder();

function hex(bytes) {
  let out = "";
  for (const byte of new Uint8Array(bytes)) out += byte.toString(16).padStart(2, "0");
  return out;
}

export async function signUrl(href, signingKey, expiry) {
  const url = new URL(href);
  const key = await subtle.importKey(
    "raw",
    utf8.encode(signingKey),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  url.searchParams.set("exp", String(expiry));
  const stringToSign = `${url.pathname}?${url.searchParams.toString()}`;
  const mac = await subtle.sign("HMAC", key, utf8.encode(stringToSign));
  url.searchParams.set("sig", hex(mac));
  return url.toString();
}

async function main(args) {
  if (args[0] === "--jsonl") {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      const entry = JSON.parse(line);
      const signed = await signUrl(entry.url, entry.key, entry.exp);
      process.stdout.write(`${JSON.stringify({ ...entry, signed })}\n`);
    }
    return 0;
  }
  if (args.length !== 3) {
    process.stderr.write("usage: node sign.mjs URL KEY EXP | node sign.mjs --jsonl < cases.jsonl\n");
    return 2;
  }
  const [url, key, exp] = args;
  process.stdout.write(`${await signUrl(url, key, exp)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
