// Twinmark page: what an owner's passkey signs, recomputed in the browser with the vendored ethers from
// the fields the page shows (the item, the recipient or status, the signed-in account), so the page
// never signs a challenge the server supplies blindly (a passkey prompt shows nothing of it). Pure
// functions, used by owner.js; `config` is the page's (chainId, contract, tokenId).
(() => {
  "use strict";

  // The passkey account contracts, pinned here: CREATE2 puts them at the same addresses on every chain.
  // The page derives its account from its own key and builds signers with this verifier rather than
  // trust addresses the server sends (tests/owners/test_door_browser.py holds them equal to the chain's).
  const OWNER_CONTRACTS = {
    factory: "0xAa016Cb127a6972Da2FCa090b984BcE6D019d367",
    implementation: "0xe76408e219B335dB4F170584C2E8742b682b32eE",
    verifier: "0x50A7444EdB93A9Dc04f5beC8cdEFA78677e6a5cf",
  };

  // The account `factory.createAccount(qx, qy)` makes: a CREATE2 clone of the implementation.
  function predictAccount(key) {
    const E = window.ethers;
    const salt = E.keccak256(E.AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes32"], [key.qx, key.qy]));
    const clone = E.concat([
      "0x3d602d80600a3d3981f3363d3d373d3d3d363d73",
      OWNER_CONTRACTS.implementation,
      "0x5af43d82803e903d91602b57fd5bf3",
    ]);
    return E.getCreate2Address(OWNER_CONTRACTS.factory, salt, E.keccak256(clone));
  }

  // A new credential's x and y, from its own attestation (SPKI DER: a P-256 point ends it).
  function keyOf(credential) {
    const spki = new Uint8Array(credential.response.getPublicKey());
    return { qx: window.ethers.hexlify(spki.slice(-64, -32)), qy: window.ethers.hexlify(spki.slice(-32)) };
  }

  const BATCH_MODE = "0x01" + "00".repeat(31);
  const TWIN_TYPES = {
    TransferTwin: [
      { name: "to", type: "address" },
      { name: "tokenId", type: "uint256" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
    ReportStatus: [
      { name: "tokenId", type: "uint256" },
      { name: "status", type: "uint8" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  };
  const EXECUTE = [
    { name: "mode", type: "bytes32" },
    { name: "executionDataHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ];
  const STATUS = { active: 0, lost: 1, stolen: 2 };

  function expected(ask, account, action, config) {
    const E = window.ethers;
    const accountDomain = { name: "Twinmark account", version: "1", chainId: config.chainId, verifyingContract: account };
    if (ask.path === "erc1271" && action.kind !== "signer") {
      // The collection's own EIP-712 digest, wrapped (ERC-7739 PersonalSign) in the account's domain.
      const domain = { name: "Twinmark", version: "1", chainId: config.chainId, verifyingContract: config.contract };
      const primary = action.kind === "transfer" ? "TransferTwin" : "ReportStatus";
      const message =
        action.kind === "transfer"
          ? { to: action.to, tokenId: config.tokenId, nonce: ask.nonce, deadline: ask.deadline }
          : { tokenId: config.tokenId, status: STATUS[action.status], nonce: ask.nonce, deadline: ask.deadline };
      const digest = E.TypedDataEncoder.hash(domain, { [primary]: TWIN_TYPES[primary] }, message);
      const struct = E.keccak256(E.concat([E.id("PersonalSign(bytes prefixed)"), digest]));
      return E.keccak256(E.concat(["0x1901", E.TypedDataEncoder.hashDomain(accountDomain), struct]));
    }
    // The account acts itself (executeBySig): the calls are made here, not taken from the server.
    let calls;
    if (action.kind === "transfer") {
      const data = new E.Interface(["function transferFrom(address,address,uint256)"]).encodeFunctionData(
        "transferFrom",
        [account, action.to, config.tokenId],
      );
      calls = [[config.contract, 0, data]];
    } else if (action.kind === "status") {
      const data = new E.Interface(["function reportStatus(uint256,uint8)"]).encodeFunctionData("reportStatus", [
        config.tokenId,
        STATUS[action.status],
      ]);
      calls = [[config.contract, 0, data]];
    } else {
      const signer = E.concat([OWNER_CONTRACTS.verifier, action.qx, action.qy]);
      const data = new E.Interface([`function ${action.fn}(bytes[])`]).encodeFunctionData(action.fn, [[signer]]);
      calls = [[account, 0, data]];
    }
    const executionData = E.AbiCoder.defaultAbiCoder().encode(["tuple(address,uint256,bytes)[]"], [calls]);
    return E.TypedDataEncoder.hash(
      accountDomain,
      { Execute: EXECUTE },
      { mode: BATCH_MODE, executionDataHash: E.keccak256(executionData), nonce: ask.account_nonce, deadline: ask.deadline },
    );
  }

  // ---------------------------------------------------------------- a message signed by the account

  // The owner's session (a player session token of the passkey account), kept by owner.js.
  const SESSION_KEY = "twinmark.owner";
  function storedSession() {
    try {
      const s = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
      if (s && Date.parse(s.expires_at) > Date.now()) return s;
    } catch {}
    return null;
  }

  // What the passkey signs so that `account.isValidSignature(EIP-191 hash of message)` holds: the hash
  // wrapped (ERC-7739 PersonalSign) in the account's own domain (registry.chain.passkeys.personal_sign_wrap).
  function personalSignDigest(message, chainId, account) {
    const E = window.ethers;
    const domain = { name: "Twinmark account", version: "1", chainId, verifyingContract: account };
    const struct = E.keccak256(E.concat([E.id("PersonalSign(bytes prefixed)"), E.hashMessage(message)]));
    return E.keccak256(E.concat(["0x1901", E.TypedDataEncoder.hashDomain(domain), struct]));
  }

  const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

  // (r, s) of the authenticator's DER signature, s made low (the account refuses a high one).
  function derSignature(der) {
    const int = (at) => {
      if (der[at] !== 0x02) throw new Error("not a DER signature");
      const length = der[at + 1];
      return [BigInt(window.ethers.hexlify(der.slice(at + 2, at + 2 + length))), at + 2 + length];
    };
    if (der[0] !== 0x30) throw new Error("not a DER signature");
    const [r, next] = int(2);
    let [s] = int(next);
    if (s > P256_N / 2n) s = P256_N - s;
    return [r, s];
  }

  function indexOf(bytes, text) {
    const needle = new TextEncoder().encode(text);
    outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    throw new Error("client data without a type or a challenge");
  }

  // OpenZeppelin's WebAuthnAuth, flat (registry.chain.passkeys.webauthn_auth): indices found in the
  // client data's raw bytes, never in a re-serialisation.
  function webauthnAuth(response) {
    const E = window.ethers;
    const client = new Uint8Array(response.clientDataJSON);
    const [r, s] = derSignature(new Uint8Array(response.signature));
    return E.AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "bytes32", "uint256", "uint256", "bytes", "string"],
      [E.toBeHex(r, 32), E.toBeHex(s, 32), indexOf(client, '"challenge":"'), indexOf(client, '"type":"'),
       new Uint8Array(response.authenticatorData), new TextDecoder().decode(client)],
    );
  }

  // The account's signature: the multisig envelope of one passkey's WebAuthnAuth, wrapped for EIP-6492
  // with the factory's createAccount(qx, qy) while the account has no code.
  function accountSignature(auth, key, deployed) {
    const E = window.ethers;
    const coder = E.AbiCoder.defaultAbiCoder();
    const signer = E.concat([OWNER_CONTRACTS.verifier, key.qx, key.qy]);
    const envelope = coder.encode(["bytes[]", "bytes[]"], [[signer], [auth]]);
    if (deployed) return envelope;
    const create = new E.Interface(["function createAccount(bytes32,bytes32)"]).encodeFunctionData("createAccount", [
      key.qx,
      key.qy,
    ]);
    const wrapped = coder.encode(["address", "bytes", "bytes"], [OWNER_CONTRACTS.factory, create, envelope]);
    return E.concat([wrapped, "0x" + "6492".repeat(16)]);
  }

  // `window.twinmarkSign(message) -> 0x signature`: a message (SIWE, a consent) signed by the signed-in
  // passkey account, as the server's `signed_by` checks it (ERC-1271, or EIP-6492 before deployment).
  // The digest is computed here from the message and the account the page holds.
  async function twinmarkSign(message) {
    const E = window.ethers;
    const s = storedSession();
    if (!s) throw new Error("sign in with your passkey first");
    const get = async (path) => {
      const res = await fetch(path, { headers: { Accept: "application/json", Authorization: `Bearer ${s.token}` } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return res.json();
    };
    const [account, devices] = await Promise.all([get("/v1/owners/me/account"), get("/v1/owners/me/passkeys")]);
    if (account.account.toLowerCase() !== s.account.toLowerCase()) throw new Error("another account");
    const challenge = personalSignDigest(message, account.chain_id, s.account);
    const b64url = (hex) => E.encodeBase64(hex).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const options = PublicKeyCredential.parseRequestOptionsFromJSON({
      challenge: b64url(challenge),
      allowCredentials: devices.map((d) => ({ type: "public-key", id: d.credential_id })),
      userVerification: "required",
      timeout: 120000,
    });
    const credential = await navigator.credentials.get({ publicKey: options });
    const device = devices.find((d) => d.credential_id === credential.id);
    if (!device) throw new Error("a passkey of another account");
    const key = { qx: `0x${device.qx}`, qy: `0x${device.qy}` };
    return accountSignature(webauthnAuth(credential.response), key, account.deployed);
  }
  // Only while a passkey owner is signed in here: otherwise a consent block signs with the wallet.
  twinmarkSign.available = () => storedSession() !== null;
  window.twinmarkSign = twinmarkSign;

  window.TwinmarkOwnerSign = {
    OWNER_CONTRACTS,
    SESSION_KEY,
    storedSession,
    predictAccount,
    keyOf,
    expected,
    personalSignDigest,
    webauthnAuth,
    accountSignature,
  };
})();
