"""An example game client for Twinmark: a player signs in with a wallet (EIP-4361), the game lists the
garments the player owns, loads one GLB and checks its bytes against its CID, then follows the
player's ownership notices and drops a garment the moment it leaves the player.

    python examples/game_client.py --api http://127.0.0.1:8000 --key 0x<player key>

Only HTTP and the player's key are needed. The CID check uses Twinmark's small CAR/CID modules
(`registry.ipfs`); a game would use its IPFS library of choice: the gateway serves `?format=car`.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from registry.ipfs import car
from registry.ipfs.cid import CID, RAW
from registry.ipfs.unixfs import decode_node

MAX_DOWNLOAD = 64 * 1024 * 1024  # a garment's GLB (or its CAR) larger than this is refused, not buffered


class GameClient:
    def __init__(self, api: str, player_key: str, *, statement: str = "Sign in to play with your garments.") -> None:
        self.api = api.rstrip("/")
        self.player = Account.from_key(player_key)
        self.statement = statement
        self.http = httpx.Client(base_url=self.api, timeout=30)
        self.token: str | None = None
        self.garments: dict[tuple[str, int], dict[str, Any]] = {}
        self.dropped: list[tuple[str, int]] = []
        self._stop = threading.Event()

    # ------------------------------------------------------------ 1. sign in with the wallet

    def sign_in(self) -> str:
        """EIP-4361: a single-use nonce, the message the wallet signs (personal_sign), a session token."""
        n = self.http.post("/v1/siwe/nonce").raise_for_status().json()
        issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = (
            f"{n['domain']} wants you to sign in with your Ethereum account:\n{self.player.address}\n\n"
            f"{self.statement}\n\nURI: {n['uri']}\nVersion: 1\nChain ID: {n['chain_id']}\n"
            f"Nonce: {n['nonce']}\nIssued At: {issued}"
        )
        signature = self.player.sign_message(encode_defunct(text=message)).signature.hex()
        body = {"message": message, "signature": "0x" + signature.removeprefix("0x")}
        self.token = self.http.post("/v1/siwe/verify", json=body).raise_for_status().json()["token"]
        return self.token

    # ------------------------------------------------------------ 2. the player's garments

    def load_wardrobe(self, *, fresh: bool = True) -> dict[tuple[str, int], dict[str, Any]]:
        """Every page of the signed-in player's virtual twins (`fresh`: re-checked at the chain head)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        params: dict[str, Any] = {"kind": "virtual", "limit": 100, "fresh": str(fresh).lower()}
        found: dict[tuple[str, int], dict[str, Any]] = {}
        while True:
            page = self.http.get("/v1/me/twins", params=params, headers=headers).raise_for_status().json()
            for item in page["items"]:
                found[(item["contract"], item["token_id"])] = item
            if not page.get("next_cursor"):
                break
            params["cursor"] = page["next_cursor"]
        self.garments = found
        return found

    # ------------------------------------------------------------ 3. a GLB whose bytes are checked

    def download_model(self, item: dict[str, Any]) -> bytes:
        """The first representation's GLB, from its https URL, checked against its CID: every block of
        the CAR is hashed against its CID, and the file rebuilt from them must equal the download."""
        main = item["representations"][0]["main_file"]
        data = self.fetch(main["url"])
        url = urlsplit(main["url"])
        archive = self.fetch(f"{url.scheme}://{url.netloc}{url.path}", params={"format": "car"})
        roots, blocks = car.read(archive)  # raises on any block not matching
        if roots != [CID.parse(main["cid"])]:
            raise ValueError(f"the gateway sent a CAR of {roots}, not {main['cid']}")
        if _file_bytes(roots[0], dict(blocks)) != data:
            raise ValueError(f"{main['url']} does not hold the bytes of {main['cid']}")
        return data

    def fetch(self, url: str, *, params: dict[str, str] | None = None, limit: int = MAX_DOWNLOAD) -> bytes:
        """A download read as it streams in, refused (ValueError) once past `limit` bytes: a gateway
        must not be able to make the game buffer without end."""
        out = bytearray()
        with self.http.stream("GET", url, params=params) as response:
            response.raise_for_status()
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise ValueError(f"{url} is {declared} bytes, over the {limit}-byte limit")
            for chunk in response.iter_bytes():
                out += chunk
                if len(out) > limit:
                    raise ValueError(f"{url} sent more than {limit} bytes")
        return bytes(out)

    # ------------------------------------------------------------ 4. ownership notices

    def follow(self, on_leave: Callable[[dict[str, Any]], None] | None = None) -> threading.Thread:
        """Listens to the player's ownership notices (event stream, `owner=` filter) in a thread: a
        garment the player sends away (`data.from` is the player) is dropped from the wardrobe."""
        ready = threading.Event()

        def run() -> None:
            params = {"owner": self.player.address}
            # No read timeout: a quiet stream is a player whose garments did not move.
            timeout = httpx.Timeout(10.0, read=None)
            with httpx.stream("GET", f"{self.api}/v1/events/stream", params=params, timeout=timeout) as r:
                ready.set()
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line[len("data: ") :])
                    key = (event["contract"], event["token_id"])
                    sender = (event["data"].get("from") or "").lower()
                    if sender == self.player.address.lower() and key in self.garments:
                        gone = self.garments.pop(key)
                        self.dropped.append(key)
                        if on_leave is not None:
                            on_leave(gone)

        thread = threading.Thread(target=run, daemon=True, name="ownership-notices")
        thread.start()
        ready.wait(10)
        return thread

    def stop(self) -> None:
        self._stop.set()


def _file_bytes(cid: CID, blocks: dict[CID, bytes]) -> bytes:
    """A UnixFS file rebuilt from verified blocks (depth first, as `ipfs cat` does)."""
    block = blocks[cid]
    if cid.codec == RAW:
        return block
    node = decode_node(block)
    return node.data + b"".join(_file_bytes(link.cid, blocks) for link in node.links)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="the player's private key (hex)")
    args = parser.parse_args()
    client = GameClient(args.api, args.key)
    client.sign_in()
    wardrobe = client.load_wardrobe()
    print(f"{client.player.address} owns {len(wardrobe)} garment(s)")
    for item in wardrobe.values():
        model = client.download_model(item)
        print(f"  {item['name']}: {len(model)} bytes, CID checked ({item['representations'][0]['main_file']['cid']})")
    client.follow(lambda gone: print(f"  {gone['name']} left the player: removed from the avatar"))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        client.stop()


if __name__ == "__main__":
    main()
