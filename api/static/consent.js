// The owner's consent block (api/templates/_consent.html): asks the service for the message to sign,
// shows the bilingual notice it commits to, has the owner sign it, grants, offers the separate PIPL
// cross-border consent when needed, lists the owner's consents and revokes them. Signing: the page's
// own `window.twinmarkSign(message) -> Promise<0x signature>` if it defines one (a passkey account;
// its optional `available()` says whether it can sign now),
// else the wallet's personal_sign (EIP-1193 `window.ethereum`). The session token (`tms_...`) is read
// from sessionStorage under the block's data-token-key. No inline script or style (CSP).
(() => {
  "use strict";

  const root = document.querySelector("[data-consent]");
  if (!root) return;
  const t = JSON.parse(root.dataset.texts);
  const $ = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem(root.dataset.tokenKey) || "";
  let pending = null; // {message, contact, crossBorderOf}

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await r.json();
    if (!r.ok) throw new Error(answer.detail || answer.title || r.status);
    return answer;
  }

  function say(text) {
    $("consent-status").textContent = text;
  }

  function hex(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function sign(message) {
    const own = window.twinmarkSign;
    if (typeof own === "function" && (typeof own.available !== "function" || own.available())) return own(message);
    if (!window.ethereum) throw new Error("no wallet or passkey to sign with");
    const me = await api("GET", "/v1/siwe/session");
    return window.ethereum.request({ method: "personal_sign", params: [hex(message), me.address] });
  }

  function review(asked, crossBorder) {
    $("consent-notice-en").textContent = asked.notice.en;
    $("consent-notice-zh").textContent = asked.notice.zh;
    $("consent-message").textContent = asked.message;
    $("consent-cross-border-note").hidden = !crossBorder;
    $("consent-sign").textContent = crossBorder ? t.sign_cross_border : t.sign;
    $("consent-review").hidden = false;
  }

  function contactFrom(form, fields) {
    const contact = {};
    for (const f of fields) {
      const value = form.elements[f].value.trim();
      contact[f] = f === "preferences" ? value.split(",").map((v) => v.trim()).filter(Boolean) : value;
    }
    return contact;
  }

  async function prepare(event) {
    event.preventDefault();
    const form = $("consent-form");
    const fields = Array.from(form.querySelectorAll("input[name=share]:checked"), (i) => i.value);
    try {
      const asked = await api("POST", "/v1/consent/messages", {
        brand_id: root.dataset.brandId,
        fields,
        purpose: form.elements.purpose.value,
        mainland_china: form.elements.mainland_china.checked,
      });
      pending = { message: asked.message, contact: contactFrom(form, fields), crossBorderOf: null };
      review(asked, false);
      say("");
    } catch (e) {
      say(`${t.error} ${e.message}`);
    }
  }

  async function signAndGrant() {
    if (!pending) return;
    try {
      const signature = await sign(pending.message);
      const contact = pending.crossBorderOf ? null : pending.contact;
      const granted = await api("POST", "/v1/consent", { message: pending.message, signature, contact });
      pending = null;
      $("consent-review").hidden = true;
      if (granted.state === "needs-cross-border") {
        const asked = await api("POST", `/v1/consent/${granted.id}/cross-border/message`);
        pending = { message: asked.message, contact: null, crossBorderOf: granted.id };
        review(asked, true);
      }
      say(t.done);
      await list();
    } catch (e) {
      say(`${t.error} ${e.message}`);
    }
  }

  async function list() {
    const mine = (await api("GET", "/v1/consent/mine")).filter((c) => c.brand_id === root.dataset.brandId);
    const ul = $("consent-mine");
    ul.replaceChildren();
    $("consent-none").hidden = mine.length > 0;
    for (const c of mine) {
      const li = document.createElement("li");
      li.dataset.consent = c.id;
      li.dataset.state = c.state;
      const what = c.kind === "share" ? c.fields.map((f) => t[`field.${f}`]).join(", ") : t.sign_cross_border;
      li.append(`${what} · ${t[`purpose.${c.purpose}`]} · ${t[`state.${c.state}`] || c.state} `);
      if (c.state !== "revoked" && c.state !== "expired") {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = t.revoke;
        button.addEventListener("click", async () => {
          try {
            await api("DELETE", `/v1/consent/${c.id}`);
            say(t.done);
            await list();
          } catch (e) {
            say(`${t.error} ${e.message}`);
          }
        });
        li.append(button);
      }
      ul.append(li);
    }
  }

  $("consent-form").addEventListener("submit", prepare);
  $("consent-sign").addEventListener("click", signAndGrant);
  // A page offering several brands ("My items") sets data-brand-id, then sends this event.
  root.addEventListener("consent:brand", () => {
    pending = null;
    $("consent-review").hidden = true;
    say("");
    list().catch((e) => say(`${t.error} ${e.message}`));
  });
  if (token() && root.dataset.brandId) list().catch((e) => say(`${t.error} ${e.message}`));
})();
