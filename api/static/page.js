// Twinmark page: the claim and resale flows. The claim secret may arrive in the URL's fragment
// (#claim=SECRET): fragments never reach a server; it is read here and removed from the address bar.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("twin-config").textContent);
  const T = config.texts;
  const $ = (id) => document.getElementById(id);
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));

  // The fragment first: whatever happens next, the secret leaves the address bar (and history).
  const fragment = new URLSearchParams(location.hash.slice(1));
  const linkSecret = fragment.get("claim");
  if (location.hash) history.replaceState(history.state, "", location.pathname + location.search);

  function show(el, text, ok) {
    el.textContent = text;
    if (ok === undefined) el.removeAttribute("data-ok");
    else el.dataset.ok = String(ok);
  }

  async function problem(res) {
    try {
      const body = await res.json();
      return body.detail || body.title || `HTTP ${res.status}`;
    } catch {
      return `HTTP ${res.status}`;
    }
  }

  async function wallet() {
    if (!window.ethereum || typeof window.ethereum.request !== "function") throw new Error(T.no_wallet);
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error(T.no_wallet);
    return accounts[0];
  }

  // A relayed call answers 200 (mined) or 202 (pending): follow a pending one until it is mined.
  async function follow(el, answer, doneText) {
    if (answer.state === "mined") {
      show(el, fill(doneText, answer), true);
      const owner = $("owner");
      if (owner) owner.textContent = answer.owner;
      return;
    }
    show(el, fill(T.pending, { tx: answer.tx_hash }));
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      const res = await fetch(config.api.transactions + answer.tx_hash, { headers: { Accept: "application/json" } });
      if (!res.ok) continue;
      const tx = await res.json();
      if (tx.state === "mined") return follow(el, { ...answer, state: "mined" }, doneText);
      if (tx.state === "reverted" || tx.state === "dropped") return show(el, fill(T.refused, { detail: tx.state }), false);
    }
  }

  async function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  }

  const claimForm = $("claim-form");
  if (claimForm) {
    const out = $("claim-result");
    if (linkSecret) {
      $("claim-secret").value = linkSecret;
      $("claim-link-note").hidden = false;
    }
    $("claim-wallet").addEventListener("click", async () => {
      try {
        $("claim-recipient").value = await wallet();
      } catch (err) {
        show(out, err.message, false);
      }
    });
    claimForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      show(out, "…");
      try {
        const res = await post(config.api.claim, {
          secret: $("claim-secret").value.trim(),
          recipient: $("claim-recipient").value.trim(),
        });
        if (!res.ok) return show(out, fill(T.refused, { detail: await problem(res) }), false);
        await follow(out, await res.json(), T.claim_done);
      } catch (err) {
        show(out, fill(T.refused, { detail: err.message }), false);
      }
    });
  }

  const resaleForm = $("resale-form");
  if (resaleForm) {
    const out = $("resale-result");
    let account = null;
    const connect = async () => {
      account = await wallet();
      $("resale-account").textContent = fill(T.connected, { account });
      return account;
    };
    $("resale-connect").addEventListener("click", () => connect().catch((err) => show(out, err.message, false)));
    resaleForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      show(out, "…");
      try {
        const signer = account || (await connect());
        const to = $("resale-buyer").value.trim();
        const res = await fetch(`${config.api.typedData}?to=${encodeURIComponent(to)}`, {
          headers: { Accept: "application/json" },
        });
        if (!res.ok) return show(out, fill(T.refused, { detail: await problem(res) }), false);
        const typed = await res.json();
        if (typed.owner.toLowerCase() !== signer.toLowerCase()) {
          return show(out, fill(T.resale_not_owner, { account: signer, owner: typed.owner }), false);
        }
        const signature = await window.ethereum.request({
          method: "eth_signTypedData_v4",
          params: [signer, JSON.stringify(typed.typed_data)],
        });
        const m = typed.typed_data.message;
        const sent = await post(config.api.transfers, { to, nonce: m.nonce, deadline: m.deadline, signature });
        if (!sent.ok) return show(out, fill(T.refused, { detail: await problem(sent) }), false);
        await follow(out, await sent.json(), T.resale_done);
      } catch (err) {
        show(out, fill(T.refused, { detail: err.message }), false);
      }
    });
  }

  // The owner's door (owner.js, loaded after this script) shows its outcomes the same way.
  window.TwinmarkPage = { show, problem, follow, fill };
})();
