// Twinmark page: the owner's door. A passkey (WebAuthn) is the owner: this script creates one, signs in
// with it, and signs the owner's actions with it. What a passkey signs is recomputed HERE, with the
// vendored ethers, from the fields this page shows (the item, the recipient, the signed-in account):
// the server's proposal is only compared with it, never signed blindly (a passkey prompt shows nothing).
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const source = $("twin-config") || $("owner-config");
  if (!source) return;
  const config = JSON.parse(source.textContent);
  const T = config.texts;
  const P = window.TwinmarkPage || {};
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
  const show = (el, text, ok) => {
    el.textContent = text;
    if (ok === undefined) el.removeAttribute("data-ok");
    else el.dataset.ok = String(ok);
  };
  const supported = () =>
    !!window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  // ---------------------------------------------------------------- the session (a player session token)

  // The passkey session lives in localStorage (it outlasts the tab); the consent block reads the same
  // token from sessionStorage under its data-token-key, so it is mirrored there while it is valid.
  const KEY = window.TwinmarkOwnerSign.SESSION_KEY;
  const MIRROR = document.querySelector("[data-consent]")?.dataset.tokenKey || "tm_player_session";
  function session() {
    const s = window.TwinmarkOwnerSign.storedSession();
    if (s) sessionStorage.setItem(MIRROR, s.token);
    else localStorage.removeItem(KEY); // expired (the mirror may be another sign-in's: left alone)
    return s;
  }
  function forget() {
    localStorage.removeItem(KEY);
    sessionStorage.removeItem(MIRROR);
  }
  const remember = (account, token, expires_at) => {
    localStorage.setItem(KEY, JSON.stringify({ account, token, expires_at }));
    sessionStorage.setItem(MIRROR, token);
  };

  async function problem(res) {
    try {
      const body = await res.json();
      return body.detail || body.title || `HTTP ${res.status}`;
    } catch {
      return `HTTP ${res.status}`;
    }
  }

  async function call(method, url, body) {
    const headers = { Accept: "application/json" };
    const s = session();
    if (s) headers.Authorization = `Bearer ${s.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(fill(T.refused, { detail: await problem(res) }));
    return res.json();
  }

  const explain = (err) => (err && err.name === "NotAllowedError" ? T.door_cancelled : err.message);

  // What a passkey signs, recomputed here (owner-sign.js: pure functions of the shown fields).
  const { predictAccount, keyOf } = window.TwinmarkOwnerSign;
  const expected = (ask, account, action) =>
    window.TwinmarkOwnerSign.expected(ask, account, action, { chainId: config.chainId, contract: config.contract, tokenId: config.tokenId });

  const b64url = (bytes) => window.ethers.encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  // Signs `ask` for `action` with one of the account's passkeys, or throws before any prompt when the
  // server's challenge is not the one recomputed here.
  async function sign(ask, action) {
    const s = session();
    const challenge = expected(ask, s.account, action);
    if (ask.account.toLowerCase() !== s.account.toLowerCase() || challenge !== ask.challenge.toLowerCase()) {
      throw new Error(T.door_mismatch);
    }
    const options = PublicKeyCredential.parseRequestOptionsFromJSON({
      challenge: b64url(window.ethers.getBytes(challenge)),
      allowCredentials: ask.allow_credentials.map((id) => ({ type: "public-key", id })),
      userVerification: "required",
      timeout: 120000,
    });
    const credential = await navigator.credentials.get({ publicKey: options });
    return credential.toJSON();
  }

  // ---------------------------------------------------------------- ceremonies

  async function create() {
    const started = await call("POST", "/v1/owners/passkeys/options", {});
    const options = PublicKeyCredential.parseCreationOptionsFromJSON(started.options);
    const credential = await navigator.credentials.create({ publicKey: options });
    const done = await call("POST", "/v1/owners/passkeys", {
      challenge_id: started.challenge_id,
      credential: credential.toJSON(),
    });
    // The account is the passkey's own: a server naming another one (where claims would go) is refused.
    if (done.account.toLowerCase() !== predictAccount(keyOf(credential)).toLowerCase()) {
      throw new Error(T.door_account_mismatch);
    }
    remember(done.account, done.token, done.expires_at);
    return fill(T.door_created, done);
  }

  async function signIn() {
    const started = await call("POST", "/v1/owners/sign-in/options", {});
    const options = PublicKeyCredential.parseRequestOptionsFromJSON(started.options);
    const credential = await navigator.credentials.get({ publicKey: options });
    const done = await call("POST", "/v1/owners/sign-in", {
      challenge_id: started.challenge_id,
      credential: credential.toJSON(),
    });
    remember(done.account, done.token, done.expires_at);
    return fill(T.door_signed_in, done);
  }

  async function addDevice() {
    const started = await call("POST", "/v1/owners/me/passkeys/options", {});
    const options = PublicKeyCredential.parseCreationOptionsFromJSON(started.options);
    const made = await navigator.credentials.create({ publicKey: options });
    const key = keyOf(made);
    const added = await call("POST", "/v1/owners/me/passkeys", {
      challenge_id: started.challenge_id,
      credential: made.toJSON(),
    });
    const ask = added.to_sign;
    const credential = await sign(ask, { kind: "signer", fn: "addSigners", ...key });
    const url = `/v1/owners/me/passkeys/${encodeURIComponent(added.credential_id)}/signers`;
    return call("POST", url, { deadline: ask.deadline, account_nonce: ask.account_nonce, credential });
  }

  // The account's passkeys here, each removable by another one (the account keeps at least one).
  async function listDevices() {
    const list = $("devices");
    const devices = await call("GET", "/v1/owners/me/passkeys");
    list.replaceChildren();
    for (const device of devices) {
      const item = document.createElement("li");
      item.dataset.credential = device.credential_id;
      const text = fill(device.synced ? T.door_device_synced : T.door_device, { date: device.created_at.slice(0, 10) });
      item.append(text + " ");
      if (devices.length > 1) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "secondary";
        remove.textContent = T.door_device_remove;
        remove.setAttribute("aria-label", `${T.door_device_remove}: ${text}`);
        wire(remove, $("device-result"), () => removeDevice(device));
        item.append(remove);
      }
      list.append(item);
    }
  }

  async function removeDevice(device) {
    const url = `/v1/owners/me/passkeys/${encodeURIComponent(device.credential_id)}/removal`;
    const ask = await call("GET", url);
    const key = { qx: `0x${device.qx}`, qy: `0x${device.qy}` };
    const credential = await sign(ask, { kind: "signer", fn: "removeSigners", ...key });
    await call("POST", url, { deadline: ask.deadline, account_nonce: ask.account_nonce, credential });
    await listDevices();
    return T.door_device_removed;
  }

  // ---------------------------------------------------------------- the page

  function render() {
    const s = session();
    const door = $("door");
    if (!door) return;
    $("door-signed-out").hidden = !!s;
    $("door-signed-in").hidden = !s;
    const owner = ($("owner")?.textContent || "").trim().toLowerCase();
    const yours = !!s && owner === s.account.toLowerCase();
    // Someone else's item (not one waiting to be claimed) says so: the owner's forms stay hidden.
    const othersItem = !!s && !yours && !$("claim-form");
    $("door-account").textContent = s ? fill(othersItem ? T.door_not_yours : T.door_signed_in, s) : "";
    if (yours && $("door-owner").hidden) listDevices().catch((err) => show($("device-result"), err.message, false));
    $("door-yours").hidden = !yours;
    $("door-owner").hidden = !yours;
    const claimButton = $("claim-passkey");
    if (claimButton) claimButton.hidden = !s;
  }

  function wire(button, out, action) {
    button.addEventListener("click", async () => {
      if (!supported()) return show(out, T.door_unsupported, false);
      show(out, "…");
      try {
        show(out, await action(), true);
      } catch (err) {
        show(out, explain(err), false);
      }
      render();
    });
  }

  function ownerActions() {
    const out = $("door-result");
    wire($("passkey-create"), out, create);
    wire($("passkey-sign-in"), out, signIn);
    $("passkey-sign-out").addEventListener("click", () => {
      forget();
      show(out, "");
      render();
    });
    const claimButton = $("claim-passkey");
    if (claimButton) claimButton.addEventListener("click", () => ($("claim-recipient").value = session().account));
    const owner = $("owner");
    if (owner) new MutationObserver(render).observe(owner, { childList: true, characterData: true, subtree: true });

    const give = $("give-form");
    if (give) {
      give.addEventListener("submit", async (event) => {
        event.preventDefault();
        const out = $("give-result");
        show(out, "…");
        try {
          const to = window.ethers.getAddress($("give-to").value.trim());
          const ask = await call("GET", `${config.api.passkeyTransfer}?to=${encodeURIComponent(to)}`);
          const credential = await sign(ask, { kind: "transfer", to });
          const body = { to, nonce: ask.nonce, deadline: ask.deadline, account_nonce: ask.account_nonce, credential };
          const answer = await call("POST", config.api.passkeyTransfer, body);
          await P.follow(out, answer, T.resale_done);
        } catch (err) {
          show(out, explain(err), false);
        }
      });
    }
    $("report-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = $("report-result");
      show(out, "…");
      try {
        const status = $("report-status").value;
        const ask = await call("GET", `${config.api.passkeyStatus}?status=${encodeURIComponent(status)}`);
        const credential = await sign(ask, { kind: "status", status });
        const body = { status, nonce: ask.nonce, deadline: ask.deadline, account_nonce: ask.account_nonce, credential };
        const answer = await call("POST", config.api.passkeyStatus, body);
        const said = fill(T.door_reported, { status: T[`door_status_${status}`] });
        await P.follow(out, { ...answer, owner: $("owner").textContent }, said);
      } catch (err) {
        show(out, explain(err), false);
      }
    });
    wire($("device-add"), $("device-result"), async () => {
      await addDevice();
      await listDevices();
      return T.door_device_added;
    });
    render();
  }

  // "My items": the signed-in owner's twins (GET /v1/me/twins, the player session), each with its
  // privileges (GET /v1/me/privileges), and the consent block for one of the owner's brands.
  const zh = config.lang === "zh-CN";
  const pair = (collection, tokenId) => `${collection.toLowerCase()}:${tokenId}`;
  const element = (tag, text, attrs = {}) => {
    const el = document.createElement(tag);
    if (text !== undefined) el.textContent = text;
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  };

  function receiptView(p, receipt, code) {
    const box = element("div", undefined, { class: "receipt" });
    box.append(element("p", T.my_redeemed));
    const name = zh ? p.name.zh : p.name.en;
    const link = element("a", undefined, { href: `/receipt?lang=${config.lang}&r=${encodeURIComponent(receipt)}` });
    link.append(element("img", undefined, { src: `/receipt/qr.svg?r=${encodeURIComponent(receipt)}`, alt: fill(T.my_receipt, { name }), width: "180", height: "180" }));
    box.append(link);
    if (code) box.append(element("p", fill(T.my_code, { code }), { class: "mono" }));
    return box;
  }

  function privilegeView(item, p) {
    const li = element("li", undefined, { "data-privilege": String(p.id) });
    const name = zh ? p.name.zh : p.name.en;
    li.append(element("strong", name), ` (${T[`privileges.kind.${p.kind}`]})`);
    const description = zh ? p.description.zh : p.description.en;
    if (description) li.append(element("p", description));
    const state = element("div", undefined, { class: "privilege-state" });
    if (p.receipt) state.append(receiptView(p, p.receipt, p.code));
    else if (p.eligible && p.kind === "ongoing") state.append(element("p", T.my_ongoing));
    else if (p.eligible) {
      const button = element("button", T.my_redeem, { type: "button", "aria-label": fill(T.my_redeem_label, { name }) });
      const out = element("p", "", { class: "outcome", role: "status", "aria-live": "polite" });
      button.addEventListener("click", async () => {
        button.disabled = true;
        show(out, "…");
        try {
          const done = await call("POST", `/v1/privileges/${p.id}/redeem`, { collection: item.collection, token_id: item.token_id });
          state.replaceChildren(receiptView(p, done.receipt, done.code));
        } catch (err) {
          button.disabled = false;
          show(out, err.message, false);
        }
      });
      state.append(button, out);
    } else {
      const reasons = p.why_not.map((r) => T[`my_reason.${r}`] || r).join(zh ? "；" : "; ");
      state.append(element("p", fill(T.my_not_available, { reasons }), { class: "why-not" }));
    }
    li.append(state);
    return li;
  }

  // One consent block, for the brand chosen among those the owner holds twins of or consented to.
  function consentBrands(brands) {
    const root = document.querySelector("[data-consent]");
    if (!root || !brands.size) return;
    const texts = JSON.parse(root.dataset.texts);
    const select = $("consent-brand");
    const choose = () => {
      root.dataset.brandId = select.value;
      $("consent-title").textContent = fill(texts.title, { brand: brands.get(select.value) });
      root.dispatchEvent(new Event("consent:brand"));
    };
    select.replaceChildren(...[...brands].map(([id, name]) => element("option", name, { value: id })));
    select.addEventListener("change", choose);
    $("consent-brand-row").hidden = brands.size < 2;
    $("my-consent").hidden = false;
    choose();
  }

  async function myItems() {
    const list = $("my-items");
    const note = $("my-note");
    const s = session();
    if (!s) return;
    note.textContent = fill(T.door_signed_in, s);
    try {
      // The items are listed even when their privileges or the consents cannot be read just now.
      const [page, mine, consents] = await Promise.all([
        call("GET", "/v1/me/twins?limit=100"),
        call("GET", "/v1/me/privileges").catch(() => ({ twins: [] })),
        call("GET", "/v1/consent/mine").catch(() => []),
      ]);
      const privileges = new Map(mine.twins.map((t) => [pair(t.collection, t.token_id), t.privileges]));
      const brands = new Map();
      list.replaceChildren();
      for (const item of page.items) {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = `/t/${item.contract}/${item.token_id}`;
        a.textContent = `${item.brand.name || ""} · ${item.name}`;
        a.dataset.token = String(item.token_id);
        li.append(a);
        const carried = privileges.get(pair(item.contract, item.token_id)) || [];
        if (carried.length) {
          const ul = element("ul", undefined, { class: "privileges", "data-token": String(item.token_id) });
          for (const p of carried) ul.append(privilegeView({ collection: item.contract, token_id: item.token_id }, p));
          li.append(ul);
        }
        list.append(li);
        if (item.brand.id) brands.set(item.brand.id, item.brand.name || item.brand.id);
      }
      for (const c of consents) if (!brands.has(c.brand_id)) brands.set(c.brand_id, c.brand_name);
      if (!page.items.length) note.textContent = T.my_empty;
      consentBrands(brands);
    } catch (err) {
      note.textContent = err.message;
    }
    list.dataset.loaded = "true";
  }

  if ($("door")) ownerActions();
  if ($("my-items")) myItems();
})();
