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

  window.TwinmarkOwnerSign = { OWNER_CONTRACTS, predictAccount, keyOf, expected };
})();
