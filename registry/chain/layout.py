"""What the contracts fix and every layer above relies on: token-id layout, twin kinds and
statuses, the zero address. Written once here; `TwinmarkERC721.sol` is the source."""

from __future__ import annotations

from enum import IntEnum

ID_STRIDE = 10_000  # tokenId = batchId * ID_STRIDE + index, index in 1..size (at most 4,096)
ZERO_ADDRESS = "0x" + "00" * 20


class Kind(IntEnum):
    physical = 0
    virtual = 1


class Status(IntEnum):
    """`TwinmarkCollection.Status`; the API names them `active`, `lost`, `stolen`."""

    active = 0
    lost = 1
    stolen = 2


def first_token(batch_id: int) -> int:
    """The batch's first token; also the key its `BatchMinted` event is indexed under."""
    return batch_id * ID_STRIDE + 1


def token_id(batch_id: int, index: int) -> int:
    """The token of the `index`-th (0-based) twin of a batch."""
    return first_token(batch_id) + index


def batch_of(token: int) -> int:
    return token // ID_STRIDE


def batch_tokens(batch_id: int, size: int) -> tuple[int, int]:
    """First and last token id of a batch of `size` twins."""
    return first_token(batch_id), batch_id * ID_STRIDE + size


def status_name(code: int) -> str:
    """`active`, `lost` or `stolen`; an unknown code as its number."""
    try:
        return Status(code).name
    except ValueError:
        return str(code)


def kind_name(code: int) -> str:
    return Kind(code).name
