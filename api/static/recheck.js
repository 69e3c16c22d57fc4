// Twinmark in-browser re-check, chain half and result: the twin's report from the registry through the
// RPC URL in the panel (eth_call twinReport; eth_getLogs in bounded spans when the brand has compromise
// windows), the content checks of ipfs-check.js against the gateway in the panel, then the verdict,
// computed as registry/verify/service.py does. This service's verdict (rendered into the page) is read
// only at the end, to say whether both agree: "verified in your browser" needs the browser's own
// verdict to be authentic and to agree check by check.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("twin-config").textContent);
  const T = config.texts;
  const $ = (id) => document.getElementById(id);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
  const STATUS = ["active", "lost", "stolen"];
  let rpcId = 0;

  async function rpc(url, method, params) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
    });
    if (!res.ok) throw new Error(`RPC ${method}: HTTP ${res.status}`);
    const body = await res.json();
    if (body.error) throw new Error(`RPC ${method}: ${body.error.message}`);
    return body.result;
  }

  const compromisedAt = (windows, t) => windows.some(([start, end]) => start <= t && (end === 0 || t < end));
  const iso = (t) => new Date(t * 1000).toISOString().replace(".000Z", "+00:00");
  const uintTopic = (n) => "0x" + BigInt(n).toString(16).padStart(64, "0");

  // eth_getLogs from `from` to `to` in spans of at most `span` blocks; a refused span is halved.
  async function logs(url, query, from, to, span) {
    const found = [];
    for (let position = from; position <= to; ) {
      const stop = Math.min(to, position + span - 1);
      try {
        const bounds = { fromBlock: "0x" + position.toString(16), toBlock: "0x" + stop.toString(16) };
        found.push(...(await rpc(url, "eth_getLogs", [{ ...query, ...bounds }])));
        position = stop + 1;
      } catch (err) {
        if (span === 1) throw err;
        span = Math.max(1, Math.floor(span / 2));
      }
    }
    return found.sort((a, b) => Number(a.blockNumber) - Number(b.blockNumber) || Number(a.logIndex) - Number(b.logIndex));
  }

  // What of the twin's current state was set inside a compromise window: its current content, or its
  // current `active` status (a "recovered" clearing a theft report). As `_set_while_compromised`.
  async function setWhileCompromised(url, iface, windows) {
    const head = Number(await rpc(url, "eth_blockNumber", []));
    const topics = [[iface.getEvent("ContentUpdated").topicHash, iface.getEvent("StatusChanged").topicHash], uintTopic(config.tokenId)];
    let content = null, status = null;
    for (const log of await logs(url, { address: config.contract, topics }, config.fromBlock, head, config.logSpan)) {
      const parsed = iface.parseLog(log);
      if (parsed && parsed.name === "ContentUpdated") content = log;
      else if (parsed && parsed.name === "StatusChanged") status = { log, active: Number(parsed.args.status) === 0 };
    }
    const problems = [];
    for (const [log, what] of [[content, "current content"], [status && status.active ? status.log : null, "current status"]]) {
      if (!log) continue;
      const t = Number((await rpc(url, "eth_getBlockByNumber", [log.blockNumber, false])).timestamp);
      if (compromisedAt(windows, t)) problems.push(`${what} set at ${iso(t)} (tx ${log.transactionHash})`);
    }
    return problems;
  }

  async function verify({ rpcUrl, gateway, registry }) {
    const iface = new ethers.Interface([config.abi.twinReport, ...config.abi.events]);
    const chainId = Number(await rpc(rpcUrl, "eth_chainId", []));
    if (chainId !== config.chainId) throw new Error(`the RPC serves chain ${chainId}, the twin is on chain ${config.chainId}`);
    const data = iface.encodeFunctionData("twinReport", [config.contract, BigInt(config.tokenId)]);
    const [report] = iface.decodeFunctionResult("twinReport", await rpc(rpcUrl, "eth_call", [{ to: registry, data }, "latest"]));
    const checks = [];
    if (report.brandId === 0n) {
      checks.push({ name: "genuine_collection", ok: false, detail: `${config.contract} is not a collection of registry ${registry}` });
      return { checks, authentic: false };
    }
    const brand = report.brand;
    checks.push({ name: "genuine_collection", ok: true, detail: `collection of brand #${report.brandId} (${brand.name}) in registry ${registry}` });
    if (!report.exists) {
      const reason = report.burned ? "was destroyed (burned) by its owner" : "was never minted";
      checks.push({ name: "token_exists", ok: false, detail: `token ${config.tokenId} ${reason}` });
      return { checks, authentic: false };
    }
    const twin = report.twin;
    checks.push({ name: "token_exists", ok: true, detail: `token ${config.tokenId} of batch ${twin.batchId}, owned by ${twin.owner}` });
    const windows = report.compromises.map((w) => [Number(w.start), Number(w.end)]);
    const minted = Number(twin.mintedAt);
    const problems = compromisedAt(windows, minted) ? [`minted at ${iso(minted)}`] : [];
    if (windows.length) problems.push(...(await setWhileCompromised(rpcUrl, iface, windows)));
    checks.push(problems.length
      ? { name: "issuer_standing", ok: false, detail: problems.join("; ") + ", while the brand's keys were compromised" }
      : { name: "issuer_standing", ok: true, detail: `minted at ${iso(minted)} by an active brand whose keys were not compromised` });
    checks.push(...(await window.TwinmarkContent.contentChecks(gateway, twin.uri)));
    const status = Number(twin.status);
    checks.push({ name: "status", ok: status === 0, detail: status === 0 ? "not reported lost or stolen" : `reported ${STATUS[status] ?? status}` });
    return { checks, authentic: checks.every((c) => c.ok) };
  }

  // The browser's verdict against the page's: which checks differ, and the state to show.
  function compare(mine) {
    const server = config.server;
    const names = [...new Set([...mine.checks.map((c) => c.name), ...Object.keys(server.checks)])];
    const differ = names.filter((name) => {
      const own = mine.checks.find((c) => c.name === name);
      return !own || server.checks[name] === undefined || own.ok !== server.checks[name];
    });
    const agree = differ.length === 0 && mine.authentic === server.authentic;
    return { differ, state: !agree ? "differs" : mine.authentic ? "verified" : "failed" };
  }

  const word = (ok) => (ok === undefined ? "—" : ok ? T.passed : T.failed);
  const title = (name) => config.checkTitles[name] || name;

  function item(list, name, ok, text, detail) {
    const li = document.createElement("li");
    li.dataset.check = name;
    if (ok !== undefined) li.dataset.ok = String(ok);
    if (ok === false) li.className = "bad";
    li.append(text);
    if (detail) {
      const p = document.createElement("p");
      p.className = "mono small";
      p.textContent = detail;
      li.append(p);
    }
    list.append(li);
  }

  function show(state, heading, fillList) {
    const box = $("recheck-result"), badge = $("recheck-badge");
    box.dataset.state = state;
    badge.dataset.state = state;
    badge.textContent = heading;
    box.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = heading;
    box.append(strong);
    if (fillList) {
      const list = document.createElement("ul");
      fillList(list);
      box.append(list);
    }
  }

  async function run() {
    const settings = { rpcUrl: $("recheck-rpc").value.trim(), gateway: $("recheck-gateway").value.trim(), registry: $("recheck-registry").value.trim() };
    show("running", T.recheck_running);
    let mine;
    try {
      if (typeof ethers === "undefined" || !window.TwinmarkContent) throw new Error("scripts missing");
      mine = await verify(settings);
    } catch (err) {
      window.twinmarkRecheck = { error: err.message };
      return show("error", fill(T.recheck_error, { error: err.message }));
    }
    const { differ, state } = compare(mine);
    window.twinmarkRecheck = { ...mine, state, differ };
    const own = (name) => mine.checks.find((c) => c.name === name);
    if (state === "verified") {
      show(state, T.recheck_ok);
      const body = document.createElement("p");
      body.textContent = T.recheck_ok_body;
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = T.technical;
      const list = document.createElement("ul");
      for (const c of mine.checks) item(list, c.name, true, `✓ ${title(c.name)}`, c.detail);
      details.append(summary, list);
      $("recheck-result").append(body, details);
    } else if (state === "differs") {
      show(state, T.recheck_differs, (list) => {
        for (const name of differ) {
          const c = own(name);
          const text = fill(T.recheck_row, { check: title(name), browser: word(c && c.ok), server: word(config.server.checks[name]) });
          item(list, name, c ? c.ok : undefined, text, c && c.detail);
        }
      });
    } else {
      show(state, T.recheck_failed, (list) => {
        for (const c of mine.checks.filter((c) => !c.ok)) item(list, c.name, false, `✗ ${title(c.name)}`, c.detail);
      });
    }
  }

  $("recheck-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  run();
})();
