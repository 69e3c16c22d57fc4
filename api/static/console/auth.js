// Passkey ceremonies of the console's sign-in and join pages. The browser's own JSON helpers
// (PublicKeyCredential.parse*OptionsFromJSON, credential.toJSON) do the base64url work a vendored
// library would: nothing to vendor, audit or update, and the server (py_webauthn) reads toJSON()'s
// shape as is.
(function () {
  "use strict";
  const root = document.getElementById("ceremony");
  const button = document.getElementById("passkey-button");
  const status = document.getElementById("ceremony-status");
  if (!root || !button || !status) return;

  function say(key) {
    status.textContent = status.dataset[key] || "";
    status.dataset.state = key;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(answer.detail || String(response.status));
      error.status = response.status;
      error.type = answer.type || "";
      throw error;
    }
    return answer;
  }

  function supported() {
    return (
      window.PublicKeyCredential &&
      typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
      typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function"
    );
  }

  function failed(error) {
    if (error && error.name === "NotAllowedError") say("cancelled");
    else if (error && error.status === 429) say("limited");
    else if (error && /invite-invalid/.test(error.type || "")) say("invalid");
    else say("refused");
    button.disabled = false;
  }

  async function signIn() {
    const started = await post("/console/api/sign-in/options", {});
    const options = PublicKeyCredential.parseRequestOptionsFromJSON(started.options);
    const credential = await navigator.credentials.get({ publicKey: options });
    const done = await post("/console/api/sign-in", {
      challenge_id: started.challenge_id,
      credential: credential.toJSON(),
      next: root.dataset.next || "/console",
    });
    window.location.assign(done.next);
  }

  // The invite's secret is the URL's fragment: browsers never send it, so no log ever holds it.
  const secret = decodeURIComponent(window.location.hash.slice(1));

  async function join() {
    const invite = encodeURIComponent(root.dataset.invite);
    const started = await post("/console/api/join/" + invite + "/options", { secret: secret });
    const options = PublicKeyCredential.parseCreationOptionsFromJSON(started.options);
    const credential = await navigator.credentials.create({ publicKey: options });
    const done = await post("/console/api/join/" + invite, {
      secret: secret,
      challenge_id: started.challenge_id,
      credential: credential.toJSON(),
    });
    // The secret is spent: drop it from the address bar and history before leaving.
    history.replaceState(null, "", window.location.pathname);
    window.location.assign(done.next);
  }

  // The brand's admin wallet (EIP-1193): the server writes the EIP-4361 message, the wallet signs it.
  const walletButton = document.getElementById("wallet-button");
  if (walletButton && window.ethereum) {
    walletButton.hidden = false;
    walletButton.addEventListener("click", function () {
      walletButton.disabled = true;
      say("working");
      walletSignIn().catch(function (error) {
        failed(error);
        walletButton.disabled = false;
      });
    });
  }

  function hexOf(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function walletSignIn() {
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    const started = await post("/console/api/sign-in/wallet/options", { address: accounts[0] });
    const signature = await window.ethereum.request({
      method: "personal_sign",
      params: [hexOf(started.message), accounts[0]],
    });
    const done = await post("/console/api/sign-in/wallet", {
      challenge_id: started.challenge_id,
      message: started.message,
      signature: signature,
      next: root.dataset.next || "/console",
    });
    window.location.assign(done.next);
  }

  button.addEventListener("click", function () {
    if (!supported()) {
      say("unsupported");
      return;
    }
    button.disabled = true;
    say("working");
    (root.dataset.mode === "join" ? join() : signIn()).catch(failed);
  });
})();
