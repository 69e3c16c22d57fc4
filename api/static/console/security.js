// The Security page: linking the brand's admin wallet to the signed-in admin (Sign-In with Ethereum).
// The server writes the EIP-4361 message; the wallet signs it with personal_sign.
(function () {
  "use strict";
  const button = document.getElementById("link-wallet");
  const status = document.getElementById("wallet-status");
  const csrf = document.querySelector('meta[name="csrf-token"]');
  if (!button || !status || !csrf || !window.ethereum) return;
  button.hidden = false;

  function say(key) {
    status.textContent = status.dataset[key] || "";
    status.dataset.state = key;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf.content },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.detail || String(response.status));
    return answer;
  }

  function hexOf(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function link() {
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    const started = await post("/console/api/wallet/link/options", { address: accounts[0] });
    const signature = await window.ethereum.request({
      method: "personal_sign",
      params: [hexOf(started.message), accounts[0]],
    });
    await post("/console/api/wallet/link", {
      challenge_id: started.challenge_id,
      message: started.message,
      signature: signature,
    });
    say("done");
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("working");
    link().catch(function () {
      say("refused");
      button.disabled = false;
    });
  });
})();
