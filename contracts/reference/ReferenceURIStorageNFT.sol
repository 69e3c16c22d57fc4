// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title ReferenceURIStorageNFT
 * @notice The textbook OpenZeppelin design the gas benchmark compares Twinmark with: one stored
 * `ipfs://` URI per token, minting gated by AccessControl. Not deployed by the service.
 */
contract ReferenceURIStorageNFT is ERC721URIStorage, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    uint256 private _nextId = 1;

    constructor(address admin) ERC721("Reference", "REF") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice Mints one token with its own URI.
    function mint(address to, string calldata uri) external onlyRole(MINTER_ROLE) returns (uint256 id) {
        id = _nextId++;
        _mint(to, id);
        _setTokenURI(id, uri);
    }

    /// @notice Mints one token per URI.
    function mintBatch(address to, string[] calldata uris) external onlyRole(MINTER_ROLE) {
        uint256 id = _nextId;
        for (uint256 i; i < uris.length; ++i) {
            _mint(to, id);
            _setTokenURI(id, uris[i]);
            ++id;
        }
        _nextId = id;
    }

    /// @inheritdoc AccessControl
    function supportsInterface(
        bytes4 interfaceId
    ) public view override(ERC721URIStorage, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
