// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/**
 * @title ITwinmarkCollection
 * @notice What the registry and sibling collections ask of a Twinmark collection, and the public
 * types, events and errors of every Twinmark collection.
 */
interface ITwinmarkCollection {
    /// @notice What a twin stands for.
    enum Kind {
        Physical,
        Virtual
    }

    /// @notice Status of a twin: `None`, reported `Lost` by its owner, or `Stolen`.
    enum Status {
        None,
        Lost,
        Stolen
    }

    /**
     * @notice How twins of a collection may change hands. `Open`: as any ERC-721. `GiftOnly`: an
     * owner may hand its twin on only once it has held it for the collection's holding period (the
     * sender's period after a claim or the brand's delivery, the recipient's period after a gift).
     * `Locked`: twins leave the brand's custody by claim only and never move again (burns stay
     * allowed). Ordered from loosest to strictest: a collection's policy can only move up.
     */
    enum TransferPolicy {
        Open,
        GiftOnly,
        Locked
    }

    /**
     * @notice Everything the chain knows about one twin, for verifiers.
     * @dev `owner`: current owner; `batchId`: the batch that minted it; `kind`: its batch's kind;
     * `status`: current status; `claimed`: it left the brand's custody through a claim; `claimable`:
     * it can still be claimed; `nonce`: the nonce its owner's next signed action must carry;
     * `mintedAt`: block time of its batch's mint; `custodian`: its batch's custodian; `uri`: its
     * `tokenURI`.
     */
    struct Twin {
        address owner;
        uint256 batchId;
        Kind kind;
        Status status;
        bool claimed;
        bool claimable;
        uint256 nonce;
        uint256 mintedAt;
        address custodian;
        string uri;
    }

    /**
     * @notice A batch was minted; its tokens are `batchId * 10_000 + 1 .. batchId * 10_000 + size`.
     * @param batchId The batch's id.
     * @param minter The minter that minted it.
     * @param custodian The address holding the batch's twins until they are claimed or transferred.
     * @param size Number of twins in the batch.
     * @param kind Physical good or virtual garment.
     * @param anchor sha2-256 digest of the dag-pb IPFS directory holding one metadata file per token.
     * @param claimRoot Merkle root over `(tokenId, claimKey)` leaves, or zero for twins not claimable.
     */
    event BatchMinted(
        uint256 indexed batchId,
        address indexed minter,
        address indexed custodian,
        uint256 size,
        Kind kind,
        bytes32 anchor,
        bytes32 claimRoot
    );

    /**
     * @notice A twin left the brand's custody through a claim (the recipient is in the Transfer).
     * @param tokenId The claimed twin.
     */
    event Claimed(uint256 indexed tokenId);

    /**
     * @notice A twin's status changed.
     * @param tokenId The twin.
     * @param status Its new status.
     * @param by The caller that changed it: the owner, a minter, or the relayer of an owner's signed report.
     */
    event StatusChanged(uint256 indexed tokenId, Status status, address indexed by);

    /**
     * @notice A twin's content anchor was replaced; the previous anchor is in earlier events.
     * @param tokenId The twin.
     * @param cid Binary CIDv1 of the new metadata file.
     * @param by The minter that replaced it.
     */
    event ContentUpdated(uint256 indexed tokenId, bytes cid, address indexed by);

    /**
     * @notice An authorised provider appended a service record to a twin's history.
     * @param tokenId The twin.
     * @param provider The service provider the record is from.
     * @param recordCid Binary CIDv1 of the record document.
     */
    event ServiceRecorded(uint256 indexed tokenId, address indexed provider, bytes recordCid);

    /**
     * @notice A virtual twin was linked to its physical counterpart (address(0) unlinks).
     * @param tokenId The virtual twin.
     * @param physicalCollection The collection of the physical twin, or address(0) when unlinked.
     * @param physicalTokenId The physical twin's token id.
     */
    event TwinLinked(uint256 indexed tokenId, address indexed physicalCollection, uint256 physicalTokenId);

    /**
     * @notice A minter's authorisation changed.
     * @param account The minter.
     * @param allowed Whether it may mint now.
     */
    event MinterSet(address indexed account, bool allowed);

    /**
     * @notice A service provider's authorisation changed.
     * @param account The service provider.
     * @param allowed Whether it may append service records now.
     */
    event ServiceProviderSet(address indexed account, bool allowed);

    /**
     * @notice The brand's standing, mirrored from the registry, changed.
     * @param flags Bit 0: suspended; bit 1: compromised.
     */
    event BrandFlagsChanged(uint8 flags);

    /// @notice ERC-7572: the collection-level metadata changed.
    event ContractURIUpdated();

    /**
     * @notice The collection's transfer policy became `policy` (only ever stricter).
     * @param policy The new policy.
     * @param senderHold Seconds an owner holds a twin it claimed or got from the brand before gifting it.
     * @param recipientHold Seconds an owner holds a twin it was gifted before gifting it on.
     */
    event TransferPolicyChanged(TransferPolicy policy, uint32 senderHold, uint32 recipientHold);

    /**
     * @notice `account` may not do what it asked.
     * @param account The caller, or the provider named in a signed service record.
     */
    error TwinmarkCollectionUnauthorized(address account);

    /**
     * @notice The brand is suspended by the operator; its minters can do nothing (mint, update
     * content, set status, link) until it is reinstated.
     * @param brandId The brand that owns this collection.
     */
    error TwinmarkCollectionBrandSuspended(uint256 brandId);

    /**
     * @notice The brand's keys are marked compromised; its minters can do nothing (mint, update
     * content, set status, link) until the compromise is resolved.
     * @param brandId The brand that owns this collection.
     */
    error TwinmarkCollectionBrandCompromised(uint256 brandId);

    /**
     * @notice A batch must hold 1 to 4,096 twins.
     * @param size The size asked for.
     */
    error TwinmarkCollectionInvalidBatchSize(uint256 size);

    /**
     * @notice A mint named another batch id than the next one (a replayed or raced mint).
     * @param expected The next batch id.
     * @param given The batch id the mint named.
     */
    error TwinmarkCollectionUnexpectedBatchId(uint256 expected, uint256 given);

    /// @notice A batch's content anchor cannot be zero.
    error TwinmarkCollectionInvalidAnchor();

    /// @notice Not a binary CIDv1 (raw or dag-pb) of sha2-256 content.
    error TwinmarkCollectionInvalidCid();

    /**
     * @notice The signature's deadline has passed.
     * @param deadline The signed deadline.
     */
    error TwinmarkCollectionExpiredSignature(uint256 deadline);

    /**
     * @notice The signed nonce is not the current one (a replayed or superseded signature).
     * @param expected The current nonce.
     * @param given The signed nonce.
     */
    error TwinmarkCollectionInvalidNonce(uint256 expected, uint256 given);

    /// @notice The signature is not the signer's (ECDSA for accounts, ERC-1271 for contracts).
    error TwinmarkCollectionInvalidSignature();

    /**
     * @notice The twin's batch has no claim root.
     * @param tokenId The twin.
     */
    error TwinmarkCollectionNotClaimable(uint256 tokenId);

    /**
     * @notice The twin was already claimed.
     * @param tokenId The twin.
     */
    error TwinmarkCollectionAlreadyClaimed(uint256 tokenId);

    /**
     * @notice The twin has left its batch's custodian, so it can no longer be claimed.
     * @param tokenId The twin.
     */
    error TwinmarkCollectionNotInCustody(uint256 tokenId);

    /**
     * @notice The claim key recovered from the signature is not in the batch's claim tree.
     * @param tokenId The twin.
     */
    error TwinmarkCollectionInvalidClaimProof(uint256 tokenId);

    /**
     * @notice This caller may not move the twin from status `from` to `to`.
     * @param tokenId The twin.
     * @param from Its current status.
     * @param to The status asked for.
     */
    error TwinmarkCollectionInvalidStatusChange(uint256 tokenId, Status from, Status to);

    /**
     * @notice The link is not from a virtual twin to a physical twin of a genuine collection of the
     * same brand.
     * @param tokenId The twin to link.
     */
    error TwinmarkCollectionInvalidLink(uint256 tokenId);

    /**
     * @notice The collection's policy does not let `tokenId` move before block time `movableFrom`
     * (`type(uint256).max`: never, the collection is locked).
     * @param tokenId The twin.
     * @param movableFrom The earliest block time at which its owner may hand it on.
     */
    error TwinmarkCollectionTransferRestricted(uint256 tokenId, uint256 movableFrom);

    /// @notice Approvals are refused in a `Locked` collection: nobody may ever use them.
    error TwinmarkCollectionApprovalsLocked();

    /**
     * @notice A policy change would loosen the promise buyers bought under (a looser policy or a
     * shorter holding period), or a holding period was given for a policy that has none.
     */
    error TwinmarkCollectionPolicyNotStricter(TransferPolicy current, TransferPolicy requested);

    /**
     * @notice Sets up a freshly cloned collection; callable once, by the registry that cloned it.
     * @param brandId_ The brand that owns the collection.
     * @param name_ ERC-721 name.
     * @param symbol_ ERC-721 symbol.
     * @param contractURI_ ERC-7572 collection metadata URI.
     * @param royaltyReceiver ERC-2981 royalty receiver, or address(0) for no royalty.
     * @param royaltyBps ERC-2981 royalty in basis points.
     * @param initialMinter A first minter, or address(0) for none.
     */
    function initialize(
        uint256 brandId_,
        string calldata name_,
        string calldata symbol_,
        string calldata contractURI_,
        address royaltyReceiver,
        uint96 royaltyBps,
        address initialMinter
    ) external;

    /**
     * @notice Mirrors the brand's standing in the registry (bit 0: suspended, bit 1: compromised).
     * @param flags The brand's flags; only the registry that deployed the collection may set them.
     */
    function setBrandFlags(uint8 flags) external;

    /**
     * @notice Makes the collection's transfer policy stricter; by the registry that deployed it (at
     * creation) or the brand's admin. Never looser: a stricter policy, or the same `GiftOnly` with
     * holding periods no shorter than today's.
     * @param policy The new policy.
     * @param senderHold Seconds (GiftOnly only, else 0) an owner holds a twin it claimed or got from
     * the brand before it may gift it.
     * @param recipientHold Seconds (GiftOnly only, else 0) an owner holds a twin it was gifted before
     * it may gift it on.
     */
    function setTransferPolicy(TransferPolicy policy, uint32 senderHold, uint32 recipientHold) external;

    /**
     * @notice The kind recorded by the batch of `tokenId`; reverts for an unknown or burned token.
     * @param tokenId The twin.
     * @return The kind of its batch.
     */
    function kindOf(uint256 tokenId) external view returns (Kind);

    /**
     * @notice Everything the chain says about `tokenId`; reverts for unknown or destroyed twins.
     * @param tokenId The twin.
     * @return t Its owner, batch, kind, status, claim state, nonce, mint time, custodian and URI.
     */
    function twin(uint256 tokenId) external view returns (Twin memory t);

    /**
     * @notice Whether `tokenId` was ever minted and has since been destroyed.
     * @param tokenId The token id.
     * @return Whether it was burned.
     */
    function isBurned(uint256 tokenId) external view returns (bool);
}
