// Twinmark in-browser re-check, content half: a twin's content fetched block by block from any IPFS
// gateway (?format=raw), every block hashed here and compared with its CID (CIDv0 base58, CIDv1 base32;
// raw and dag-pb), dag-pb / UnixFS decoded as registry/ipfs/unixfs.py and store.py do, giving the
// server's metadata_integrity and assets_integrity checks (registry/verify/service.py). Blocks are hashed
// with WebCrypto; where crypto.subtle is missing (a page over plain http, an old in-app WebView) with
// @noble/hashes' SHA-256, vendored next to ethers and fetched only then.
(() => {
  "use strict";
  // Resolved now: document.currentScript is this script only while it runs.
  const NOBLE = new URL("vendor/noble-sha256-1.8.0.min.js", document.currentScript.src).href;
  const RAW = 0x55, DAG_PB = 0x70;
  const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  const B32 = "abcdefghijklmnopqrstuvwxyz234567";
  const METADATA_LIMIT = 1024 * 1024, ASSET_LIMIT = 256 * 1024 * 1024;

  class Integrity extends Error {}

  // ---------------------------------------------------------------- CIDs (sha2-256, raw / dag-pb)

  function b58decode(text) {
    let n = 0n;
    for (const c of text) {
      const i = B58.indexOf(c);
      if (i < 0) throw new Integrity("invalid base58 character in CID");
      n = n * 58n + BigInt(i);
    }
    const body = [];
    for (; n > 0n; n >>= 8n) body.unshift(Number(n & 255n));
    const zeros = text.length - text.replace(/^1+/, "").length;
    return new Uint8Array([...new Array(zeros).fill(0), ...body]);
  }

  function b32decode(text) {
    const out = [];
    let bits = 0, value = 0;
    for (const c of text) {
      const i = B32.indexOf(c);
      if (i < 0) throw new Integrity("invalid base32 in CID");
      value = ((value << 5) | i) & 0xffff;
      bits += 5;
      if (bits >= 8) { bits -= 8; out.push((value >> bits) & 255); }
    }
    return new Uint8Array(out);
  }

  function b32encode(bytes) {
    let out = "", bits = 0, value = 0;
    for (const b of bytes) {
      value = ((value << 8) | b) & 0xffff;
      bits += 8;
      while (bits >= 5) { bits -= 5; out += B32[(value >> bits) & 31]; }
    }
    return bits ? out + B32[(value << (5 - bits)) & 31] : out;
  }

  function cidFromBytes(raw) {
    if (raw.length === 34 && raw[0] === 0x12 && raw[1] === 0x20) return { version: 0, codec: DAG_PB, digest: raw.slice(2) };
    if (raw.length !== 36 || raw[0] !== 1 || (raw[1] !== RAW && raw[1] !== DAG_PB) || raw[2] !== 0x12 || raw[3] !== 0x20) {
      throw new Integrity("expected a CIDv1 with raw or dag-pb codec and a sha2-256 multihash");
    }
    return { version: 1, codec: raw[1], digest: raw.slice(4) };
  }

  function parseCid(text) {
    if (text.length === 46 && text.startsWith("Qm")) return cidFromBytes(b58decode(text));
    if (!text.startsWith("b")) throw new Integrity(`${text}: expected a CIDv0 (Qm...) or a base32 CIDv1 (b...)`);
    return cidFromBytes(b32decode(text.slice(1).toLowerCase()));
  }

  // Gateways are asked by the CIDv1 form (the same multihash names the same block in both forms).
  const cidText = (cid) => "b" + b32encode(new Uint8Array([1, cid.codec, 0x12, 0x20, ...cid.digest]));

  // ---------------------------------------------------------------- dag-pb / UnixFS (registry/ipfs/unixfs.py)

  function varint(buf, pos) {
    let result = 0, scale = 1;
    for (;;) {
      if (pos >= buf.length) throw new Integrity("truncated protobuf varint");
      const byte = buf[pos++];
      result += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) return [result, pos];
      scale *= 128;
      if (scale > 2 ** 56) throw new Integrity("protobuf varint too long");
    }
  }

  function* fields(buf) {
    let pos = 0;
    while (pos < buf.length) {
      let key, value, length;
      [key, pos] = varint(buf, pos);
      const number = Math.floor(key / 8), wire = key & 7;
      if (wire === 0) { [value, pos] = varint(buf, pos); yield [number, value]; }
      else if (wire === 2) {
        [length, pos] = varint(buf, pos);
        if (pos + length > buf.length) throw new Integrity("truncated protobuf field");
        yield [number, buf.subarray(pos, pos + length)];
        pos += length;
      } else throw new Integrity(`unexpected protobuf wire type ${wire}`);
    }
  }

  function decodeNode(block) {
    const links = [];
    let unixfs = new Uint8Array(0);
    for (const [number, value] of fields(block)) {
      if (number === 2 && value instanceof Uint8Array) {
        let cid = null, name = "";
        for (const [n, v] of fields(value)) {
          if (n === 1 && v instanceof Uint8Array) cid = cidFromBytes(v);
          else if (n === 2 && v instanceof Uint8Array) name = new TextDecoder("utf-8", { fatal: true }).decode(v);
        }
        if (!cid) throw new Integrity("dag-pb link without a hash");
        links.push({ cid, name });
      } else if (number === 1 && value instanceof Uint8Array) unixfs = value;
    }
    let kind = 0, data = new Uint8Array(0);
    for (const [number, value] of fields(unixfs)) {
      if (number === 1 && typeof value === "number") kind = value;
      else if (number === 2 && value instanceof Uint8Array) data = value;
    }
    return { links, kind, data };
  }

  // ---------------------------------------------------------------- SHA-256, WebCrypto or noble

  let noble = null;
  function loadNoble() {
    noble = noble || new Promise((resolve, reject) => {
      const script = document.createElement("script");  // same origin: allowed by script-src 'self'
      script.src = NOBLE;
      script.onload = () => (window.nobleSha256 ? resolve(window.nobleSha256.sha256) : reject(new Error("SHA-256 script empty")));
      script.onerror = () => { noble = null; reject(new Error("could not load the SHA-256 script")); };
      document.head.appendChild(script);
    });
    return noble;
  }

  async function sha256(bytes) {
    const subtle = window.crypto && window.crypto.subtle;
    if (subtle) return new Uint8Array(await subtle.digest("SHA-256", bytes));
    return (await loadNoble())(bytes);
  }

  // ---------------------------------------------------------------- blocks from any gateway

  function Blocks(gateway) {
    const base = gateway.replace(/\/+$/, "");
    const cache = new Map();
    return async function get(cid) {
      const key = cidText(cid);
      if (cache.has(key)) return cache.get(key);
      const res = await fetch(`${base}/${key}?format=raw`, { headers: { Accept: "application/vnd.ipld.raw" } });
      if (!res.ok) throw new Integrity(`${key}: the gateway answered ${res.status}`);
      const block = new Uint8Array(await res.arrayBuffer());
      const digest = await sha256(block);
      if (digest.length !== cid.digest.length || digest.some((b, i) => b !== cid.digest[i])) {
        throw new Integrity(`${key}: the gateway's bytes do not hash to this CID`);
      }
      cache.set(key, block);
      return block;
    };
  }

  // A UnixFS file's bytes, as `registry.ipfs.store.cat` reads them (same limits).
  async function cat(get, cid, limit) {
    if (cid.codec === RAW) {
      const block = await get(cid);
      if (block.length > limit) throw new Integrity(`${cidText(cid)} is larger than ${limit} bytes`);
      return block;
    }
    const maxBlocks = 64 + Math.floor(limit / 4096);
    const parts = [], stack = [cid];
    let size = 0, fetched = 0;
    while (stack.length) {
      const current = stack.pop();
      if (++fetched > maxBlocks) throw new Integrity(`${cidText(cid)} is a DAG of more than ${maxBlocks} blocks`);
      const block = await get(current);
      let piece = block;
      if (current.codec !== RAW) {
        const node = decodeNode(block);
        if (node.kind !== 2) throw new Integrity(`${cidText(current)} is not a file`);
        piece = node.data;
        for (let i = node.links.length - 1; i >= 0; i--) stack.push(node.links[i].cid);
      }
      parts.push(piece);
      size += piece.length;
      if (size > limit) throw new Integrity(`${cidText(cid)} is larger than ${limit} bytes`);
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async function resolve(get, uri) {
    if (!uri.startsWith("ipfs://")) throw new Integrity(`token URI ${uri} is not an ipfs:// URI`);
    const rest = uri.slice("ipfs://".length);
    const cut = rest.indexOf("/");
    const root = parseCid(cut < 0 ? rest : rest.slice(0, cut));
    if (cut < 0) return root;
    const name = rest.slice(cut + 1);
    const node = decodeNode(await get(root));
    if (node.kind !== 1) throw new Integrity(`${cidText(root)} is not a directory`);
    const link = node.links.find((l) => l.name === name);
    if (!link) throw new Integrity(`${cidText(root)} has no entry '${name}'`);
    return link.cid;
  }

  function referencedCids(doc) {
    const found = [];
    const walk = (v) => {
      if (typeof v === "string" && v.startsWith("ipfs://")) found.push(v.slice("ipfs://".length));
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    walk(doc);
    return [...new Set(found)];
  }

  async function contentChecks(gateway, uri) {
    const get = Blocks(gateway);
    let file, doc;
    try {
      file = await resolve(get, uri);
      const bytes = await cat(get, file, METADATA_LIMIT);
      doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Integrity("metadata is not a JSON object");
    } catch (err) {
      return [{ name: "metadata_integrity", ok: false, detail: `${uri}: ${err.message}` }];
    }
    const checks = [{ name: "metadata_integrity", ok: true, detail: `${uri} resolves to ${cidText(file)}, whose bytes hash to it` }];
    const assets = referencedCids(doc), failures = [];
    for (const text of assets) {
      try { await cat(get, parseCid(text), ASSET_LIMIT); } catch (err) { failures.push(`${text}: ${err.message}`); }
    }
    checks.push(failures.length
      ? { name: "assets_integrity", ok: false, detail: failures.join("; ") }
      : { name: "assets_integrity", ok: true, detail: `${assets.length} referenced asset(s) hash to their CIDs` });
    return checks;
  }

  window.TwinmarkContent = { sha256, parseCid, cidText, decodeNode, cat, contentChecks, Integrity };
})();
