"""Scan intelligence, simulated (issue 21 part 6): seeded buyers, clones, copied labels and grey-market
goods fed through the real HTTP routes; the alerts raised are compared with the generator's truth.

    .venv/bin/python -m benchmarks.bench_intelligence [--seed 21] [--twins 10000] [--scans 100000]

1. Mint `--twins` twins (batch mint) plus a pool for the cold-verification row; enrol an NFC tag on a
   fifth of them (NTAG 424 tags diversified from a brand master key, built with `registry.nfc.sun`;
   HaLo chips as eth_account keys); the collection's intended markets set via PUT /v1/alerts/policy.
2. Feed `--scans` scans and taps (resolver hits, pages arriving by QR, NFC tap pages, verifications)
   with the client named by X-Forwarded-For (loopback is the trusted proxy) from real networks of
   each country (checked against iptocc at start):
   - genuine buyers: a shop visit (the shop's Wi-Fi is shared by many sessions scanning its stock),
     re-scans and reloads in one session, a language switch, taps with a rising counter, scans at
     home or over a carrier NAT (one /24 for many sessions), some travelling to a neighbour country
     or scanning once abroad;
   - cloned NFC tags (1% of twins): a tap captured from the genuine tag and played again elsewhere
     (the same counter, then an older one after the genuine tag moved on);
   - copied QR labels (1% of twins, NFC-bound): the printed code scanned by many sessions across
     countries, never tapped;
   - grey market (2% of the scans): twins scanned by a reseller and its buyers in an off-market country.
3. Wait for the recorder and the alert worker, read GET /v1/alerts and print precision and recall per
   rule and for the issue's two target groups.
4. Ingestion: resolver hits (wrk, a client address per request) while wrk runs cold verification of
   distinct unseen twins; scans/s from the `scans` table counted over time, drops from /v1/scans/status.

`--ingestion-only` runs step 4 alone: the resolver hits alone, cold verification alone, then both at
once (fresh twins per verification row, `--cold` each; each resolver row its half of `--twins`'
labels), with recording on and then off (a second service): the one process's ceiling beside the
target.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import iptocc
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account

from benchmarks.bench_verify_cold import GTIN, mint, wrk
from benchmarks.benchlib import ROOT, Service, parse_wrk, service
from registry.nfc import diversify, halo, sun
from registry.nfc.service import enrol_challenge
from registry.pages import tickets

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"
)
HTML = "text/html,application/xhtml+xml"
CHAIN_ID = 31337  # Anvil's, which `twinmark serve` starts
# A /16 of real networks per country (an ISP's or a large host's); every /24 drawn is checked with iptocc.
SEEDS = {
    "FR": "90.0",
    "DE": "85.214",
    "IT": "79.0",
    "ES": "80.58",
    "NL": "145.0",
    "BE": "81.240",
    "CH": "85.0",
    "GB": "81.2",
    "US": "8.8",
    "JP": "126.0",
    "CN": "114.114",
    "HK": "203.198",
    "AE": "94.200",
    "BR": "177.0",
    "SG": "165.21",
    "AU": "1.128",
    "CA": "24.48",
    "SE": "78.64",
    "PL": "83.0",
    "TR": "88.224",
}
MARKETS = ["FR", "DE", "IT", "ES", "NL", "BE", "CH", "GB", "US", "JP", "SE", "PL", "CA"]
NEIGHBOURS = {"FR": "BE", "BE": "NL", "NL": "DE", "DE": "CH", "CH": "IT", "IT": "CH", "ES": "FR", "GB": "FR"}
OFF_MARKET = ["CN", "HK", "AE", "BR", "SG", "AU", "TR"]
CLONE_RULES = {"nfc-counter", "counterfeit"}
LABEL_GREY_RULES = {"copied-label", "off-market"}


class Networks:
    """Real /24 networks per country, drawn from the seeds and confirmed by iptocc."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool: dict[str, list[str]] = {}
        for country, seed in SEEDS.items():
            nets = [f"{seed}.{i}" for i in range(256) if iptocc.country_code(f"{seed}.{i}.1") == country]
            if len(nets) < 16:
                sys.exit(f"iptocc places too few of {seed}.0.0/16 in {country}: pick another seed")
            self.pool[country] = nets

    def network(self, country: str) -> str:
        return self.rng.choice(self.pool[country])

    def host(self, network: str) -> str:
        return f"{network}.{self.rng.randint(1, 254)}"


@dataclass
class Tag:
    kind: str
    counter: int = 0
    uid: bytes = b""
    meta_key: bytes = b""
    file_key: bytes = b""
    key: bytes = b""  # HaLo private key

    def params_at(self, counter: int, rng: random.Random) -> dict[str, str]:
        if self.kind == "ntag424":
            picc = bytes([0xC7]) + self.uid + sun.counter_bytes(counter) + rng.randbytes(5)
            enc = Cipher(algorithms.AES(self.meta_key), modes.CBC(bytes(16))).encryptor()
            mac = sun.sdm_mac(self.file_key, self.uid, counter, sun.mac_input(None))
            return {"picc_data": (enc.update(picc) + enc.finalize()).hex().upper(), "cmac": mac.hex().upper()}
        rnd = counter.to_bytes(4, "big") + rng.randbytes(28)
        signed = Account.unsafe_sign_hash(halo.rnd_digest(rnd), self.key)
        return {"pk2": self.public_key, "rnd": rnd.hex(), "rndsig": bytes(signed.signature).hex()}

    @property
    def public_key(self) -> str:
        key = ec.derive_private_key(int.from_bytes(self.key, "big"), ec.SECP256K1())
        return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint).hex()


@dataclass
class Twin:
    contract: str
    token: int
    serial: str
    truth: str = "genuine"  # genuine | clone | copied | grey
    tag: Tag | None = None


@dataclass
class Visit:
    """One request: `kind` resolver | page | tap | verify; `session` a cookie value (None: no cookie)."""

    twin: Twin
    kind: str
    ip: str
    session: str | None
    lang: str = "en"
    params: dict[str, str] = field(default_factory=dict)
    agent: str = BROWSER


class Simulation:
    def __init__(self, rng: random.Random, nets: Networks, twins: list[Twin]) -> None:
        self.rng, self.nets, self.twins = rng, nets, twins
        self.lanes: dict[int, list[Visit]] = defaultdict(list)  # per twin, in order
        # Shared networks: shops (each one /24, its stock scanned by many sessions) and carrier NATs.
        self.shops = {c: [nets.network(c) for _ in range(8)] for c in MARKETS}
        self.carriers = {c: [nets.network(c) for _ in range(4)] for c in SEEDS}

    def session(self) -> str:
        return tickets.new_browser_id()

    def add(self, twin: Twin, kind: str, net: str, session: str | None, **kw: Any) -> None:
        self.lanes[twin.token].append(Visit(twin, kind, self.nets.host(net), session, **kw))

    def tap(self, twin: Twin, net: str, session: str, **kw: Any) -> dict[str, str]:
        assert twin.tag is not None
        twin.tag.counter += 1
        params = twin.tag.params_at(twin.tag.counter, self.rng)
        self.add(twin, "tap", net, session, params=params, **kw)
        return params

    def scan(self, twin: Twin, net: str, session: str, **kw: Any) -> int:
        """A QR scan: the resolver's redirect, then (mostly) the page it leads to; the requests made."""
        self.add(twin, "resolver", net, session, **kw)
        if self.rng.random() < 0.7:
            self.add(twin, "page", net, session, **kw)
            return 2
        return 1

    def genuine(self, twin: Twin, budget: int) -> None:
        """A buyer's life with the item: a visit to the shop, then home or a carrier; sometimes abroad."""
        rng = self.rng
        country = rng.choice(MARKETS)
        lang = "zh" if rng.random() < 0.1 else "en"
        buyer, agent = self.session(), rng.choice([BROWSER, ANDROID])
        shop = rng.choice(self.shops[country])
        home = self.nets.network(country) if rng.random() < 0.6 else rng.choice(self.carriers[country])
        spent = 0
        # Another shopper looked at it in the shop first (same Wi-Fi, another session).
        if rng.random() < 0.4:
            spent += self.scan(twin, shop, self.session())
        while spent < budget:
            step = rng.random()
            net = shop if spent < 2 else home
            if twin.tag is not None and step < 0.35:
                params = self.tap(twin, net, buyer, lang=lang, agent=agent)
                if rng.random() < 0.3:  # the tap page reloaded, or switched language: the same tap again
                    self.add(twin, "tap", net, buyer, params=params, lang="zh" if lang == "en" else "en", agent=agent)
                    spent += 1
            elif step < 0.8:
                spent += self.scan(twin, net, buyer, lang=lang, agent=agent) - 1
                if rng.random() < 0.15:
                    lang = "zh" if lang == "en" else "en"  # a language switch, same session
            else:
                self.add(twin, "verify", net, buyer, agent=agent)
            spent += 1
        # Travel: a neighbouring country by train (the same session), or once abroad on a hotel network.
        roll = rng.random()
        if roll < 0.08 and country in NEIGHBOURS:
            self.scan(twin, self.nets.network(NEIGHBOURS[country]), buyer, lang=lang, agent=agent)
        elif roll < 0.12:
            self.scan(twin, self.nets.network(rng.choice(OFF_MARKET)), buyer, lang=lang, agent=agent)

    def clone(self, twin: Twin) -> None:
        """The genuine buyer taps; someone captured one tap and plays it again far away, twice."""
        country = self.rng.choice(MARKETS)
        buyer, home = self.session(), self.nets.network(country)
        for _ in range(self.rng.randint(1, 3)):
            captured = self.tap(twin, home, buyer)
        forger = self.nets.network(self.rng.choice([c for c in SEEDS if c != country]))
        self.add(twin, "tap", forger, self.session(), params=captured)  # the clone's first showing
        self.tap(twin, home, buyer)
        self.tap(twin, home, buyer)
        self.add(twin, "tap", forger, self.session(), params=captured)  # again, now an older counter

    def copied(self, twin: Twin, crowds: int) -> None:
        """The printed code copied onto other goods: scanned by many sessions in many countries, no tap."""
        for _ in range(crowds):
            country = self.rng.choice(list(SEEDS))
            self.scan(twin, self.nets.network(country), self.session())

    def grey(self, twin: Twin, scans: int) -> None:
        """Diverted goods: a reseller in an off-market country, then its customers on the carrier."""
        country = self.rng.choice(OFF_MARKET)
        reseller, shop = self.session(), self.nets.network(country)
        self.scan(twin, shop, reseller)
        while sum(1 for v in self.lanes[twin.token]) < scans:
            self.scan(twin, self.rng.choice(self.carriers[country]), self.session(), lang="zh")

    def interleave(self) -> list[Visit]:
        """The lanes merged in a random global order, each twin's visits kept in order."""
        order = [t for t, lane in self.lanes.items() for _ in lane]
        self.rng.shuffle(order)
        cursor: Counter[int] = Counter()
        merged = []
        for t in order:
            merged.append(self.lanes[t][cursor[t]])
            cursor[t] += 1
        return merged


def build(rng: random.Random, nets: Networks, twins: list[Twin], scans: int) -> Simulation:
    sim = Simulation(rng, nets, twins)
    clones = [t for t in twins if t.truth == "clone"]
    copied = [t for t in twins if t.truth == "copied"]
    grey = [t for t in twins if t.truth == "grey"]
    for t in clones:
        sim.clone(t)
    for t in copied:
        sim.copied(t, rng.randint(6, 14))
    grey_budget = max(int(scans * 0.02), 4 * len(grey))
    for t in grey:
        sim.grey(t, max(4, grey_budget // max(len(grey), 1)))
    used = sum(len(lane) for lane in sim.lanes.values())
    genuine = [t for t in twins if t.truth == "genuine"]
    per = max(1, (scans - used) // max(len(genuine), 1))
    for t in genuine:
        sim.genuine(t, math.ceil(rng.expovariate(1 / per)))
    return sim


def send(url: str, visits: list[Visit], workers: int) -> tuple[int, Counter[int]]:
    """Every visit, each twin's in order (a twin's visits go to one worker), `workers` at a time."""
    shards: list[list[Visit]] = [[] for _ in range(workers)]
    for v in visits:
        shards[v.twin.token % workers].append(v)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    name = tickets.cookie_name(False)

    def run(shard: list[Visit]) -> None:
        local: Counter[int] = Counter()
        with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as client:
            for v in shard:
                headers = {"X-Forwarded-For": v.ip, "User-Agent": v.agent, "Accept": HTML}
                headers["Accept-Language"] = "zh-CN,zh;q=0.9" if v.lang == "zh" else "en-GB,en;q=0.8"
                if v.session:
                    headers["Cookie"] = f"{name}={v.session}"
                t = v.twin
                if v.kind == "resolver":
                    r = client.get(f"/01/{GTIN}/21/{t.serial}", headers=headers)
                elif v.kind == "page":
                    r = client.get(f"/t/{t.contract}/{t.token}", headers=headers)
                elif v.kind == "tap":
                    r = client.get(f"/t/{t.contract}/{t.token}", params=v.params | {"lang": v.lang}, headers=headers)
                else:
                    r = client.get(f"/v1/verify/{t.contract}/{t.token}", headers=headers | {"Accept": "*/*"})
                local[r.status_code] += 1
        with lock:
            statuses.update(local)

    threads = [threading.Thread(target=run, args=(s,)) for s in shards]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(statuses.values()), statuses


def enrol(svc: Service, headers: dict[str, str], twins: list[Twin], master: bytes, rng: random.Random) -> None:
    with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as client:
        r = client.put("/v1/brands/me/nfc/master-key", json={"key": master.hex()})
        r.raise_for_status()
        for t in twins:
            if t.tag is None:
                continue
            base = f"/v1/twins/{t.contract}/{t.token}/nfc-tags"
            if t.tag.kind == "ntag424":
                body: dict[str, Any] = {"type": "ntag424", "uid": t.tag.uid.hex()}
            else:
                challenge = enrol_challenge(CHAIN_ID, t.contract, t.token)
                signed = Account.unsafe_sign_hash(halo.challenge_digest(challenge), t.tag.key)
                der = encode_dss_signature(signed.r, signed.s)  # enrolment takes the chip's DER form
                body = {"type": "halo", "public_key": t.tag.public_key, "signature": der.hex()}
            r = client.post(base, json=body)
            if r.status_code != 201:
                sys.exit(f"enrolment refused: {r.status_code} {r.text}")


class Counting:
    """Rows in the `scans` table, sampled in a thread while a load runs."""

    def __init__(self, db: Path) -> None:
        self.db, self.stop = db, threading.Event()
        self.samples: list[tuple[float, int]] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def count(self) -> int:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as c:
            return int(c.execute("SELECT count(*) FROM scans").fetchone()[0])

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), self.count()))
            self.stop.wait(1.0)

    def __enter__(self) -> Counting:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.samples.append((time.monotonic(), self.count()))

    def rate(self) -> float:
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        return (c1 - c0) / max(t1 - t0, 1e-9)


def settle(svc: Service, headers: dict[str, str], timeout: float = 300) -> None:
    """Until the recorder's queue is written and the alert count stops moving for 5 s."""
    op = {"Authorization": f"Bearer {svc.operator_token}"}
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        st = httpx.get(f"{svc.url}/v1/scans/status", headers=op, timeout=30).json()
        n = len(alerts(svc, headers))
        if st["waiting"] == 0 and n == last:
            if time.monotonic() - since >= 5:
                return
        else:
            last, since = n, time.monotonic()
        time.sleep(1)


def alerts(svc: Service, headers: dict[str, str]) -> list[dict[str, Any]]:
    found, cursor = [], None
    with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as client:
        while True:
            page = client.get("/v1/alerts", params={"limit": 200} | ({"cursor": cursor} if cursor else {})).json()
            found += page["alerts"]
            cursor = page["next_cursor"]
            if not cursor:
                return found


def score(flagged: set[int], truth: set[int]) -> tuple[float, float]:
    precision = len(flagged & truth) / len(flagged) if flagged else 1.0
    recall = len(flagged & truth) / len(truth) if truth else 1.0
    return precision, recall


def report(twins: list[Twin], raised: list[dict[str, Any]], captured: dict[int, int]) -> bool:
    kinds = {k: {t.token for t in twins if t.truth == k} for k in ("clone", "copied", "grey")}
    bad = set().union(*kinds.values())
    by_rule: dict[str, set[int]] = defaultdict(set)
    for a in raised:
        if a["token_id"] is not None:
            by_rule[a["rule"]].add(a["token_id"])
    intended = {"nfc-counter": "clone", "counterfeit": "clone", "copied-label": "copied", "off-market": "grey"}
    # Precision: an alert on any twin the generator made anomalous is a true one (a copied label scanned
    # off-market is off-market); recall: against the anomaly a rule is meant for, else all of them.
    print(f"\n{'rule':<22}{'twins':>7}{'true':>7}{'false':>7}{'precision':>11}{'recall':>9}  (recall against)")
    for rule in sorted(by_rule):
        flagged = by_rule[rule]
        p, _ = score(flagged, bad)
        _, r = score(flagged, kinds.get(intended.get(rule, ""), bad))
        against = intended.get(rule, "any anomaly")
        print(
            f"{rule:<22}{len(flagged):>7}{len(flagged & bad):>7}{len(flagged - bad):>7}{p:>10.1%}{r:>9.1%}  ({against})"
        )
    clone_flag = by_rule["nfc-counter"] | by_rule["counterfeit"]
    label_flag = by_rule["copied-label"] | by_rule["off-market"]
    # "By its second appearance": the nfc-counter alert names the captured counter (it fired on the first replay).
    early = {
        a["token_id"]
        for a in raised
        if a["rule"] == "nfc-counter" and captured.get(a["token_id"]) in a["facts"].get("counters", [])
    }
    cp, cr = score(clone_flag, kinds["clone"])
    label_truth = kinds["copied"] | kinds["grey"]
    lp, lr = score(label_flag, label_truth)
    second = len(early & kinds["clone"]) / max(len(kinds["clone"]), 1)
    print(f"\n{'target group':<44}{'twins':>7}{'precision':>11}{'recall':>9}  target")
    print(
        f"{'cloned NFC tags (nfc-counter, counterfeit)':<44}{len(kinds['clone']):>7}{cp:>10.1%}{cr:>9.1%}  >= 99% / 99%"
    )
    print(f"{'  flagged by the clone second appearance':<44}{len(kinds['clone']):>7}{'':>11}{second:>9.1%}  100%")
    print(
        f"{'copied labels + grey (copied-label, off-mkt)':<44}{len(label_truth):>7}{lp:>10.1%}{lr:>9.1%}  >= 99% / 95%"
    )
    genuine_hit = {t for f in by_rule.values() for t in f} - bad
    print(f"genuine twins with any alert: {len(genuine_hit)} of {len(twins) - len(bad)}")
    return cp >= 0.99 and cr >= 0.99 and second == 1.0 and lp >= 0.99 and lr >= 0.95


LUA_SCANS = """
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args)
  paths = {}
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  n = 0
end
function request()
  n = n + 1
  local i = (n * 2 + tid) % #paths + 1
  local ip = string.format("85.214.%d.%d", (n + tid * 7) % 256, (n * 13) % 250 + 2)
  local headers = {["X-Forwarded-For"] = ip, ["User-Agent"] = "BROWSER_UA", ["Accept"] = "text/html"}
  return wrk.format("GET", paths[i], headers)
end
"""


def ingestion(
    svc: Service, serials: list[str], cold: list[tuple[str, int]], seconds: int, clients: int, *, hits: bool = True
) -> dict[str, float]:
    """Resolver hits (`hits`) and cold verification of `cold` (when any), each with `clients` clients,
    at the same time; requests/s of each and the scans recorded per second (rows of the `scans` table)."""
    db = svc.data_dir / "twinmark.db"
    op = {"Authorization": f"Bearer {svc.operator_token}"}
    before = httpx.get(f"{svc.url}/v1/scans/status", headers=op, timeout=30).json()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp) / "scans.lua", Path(tmp) / "paths.txt"
        script.write_text(LUA_SCANS.replace("BROWSER_UA", BROWSER))
        listing.write_text("".join(f"/01/{GTIN}/21/{serial}\n" for serial in serials))
        command = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script), svc.url]
        verify: dict[str, Any] = {}
        paths = [f"/v1/verify/{c}/{t}" for c, t in cold]
        worker = threading.Thread(target=lambda: verify.update(wrk(svc.url, paths, clients, seconds)))
        with Counting(db) as counting:
            if cold:
                worker.start()
            if hits:
                out = subprocess.run([*command, "--", str(listing)], capture_output=True, text=True, check=True).stdout
                found = parse_wrk(out)
                figures |= {"hits": found["rps"], "hits_p99": found["p99"]}
            if cold:
                worker.join()
                figures |= {"verify": verify["rps"], "verify_p99": verify["p99"], "verified": verify["requests"]}
    time.sleep(2)
    after = httpx.get(f"{svc.url}/v1/scans/status", headers=op, timeout=30).json()
    figures["scans"] = counting.rate()
    figures["dropped"] = sum(after[k] - before[k] for k in ("dropped_full", "dropped_failed"))
    figures["waiting"] = after["waiting"]
    return figures


def show(name: str, f: dict[str, float]) -> None:
    hits = f"{f['hits']:6.0f} req/s (p99 {f['hits_p99']:6.1f} ms)" if "hits" in f else f"{'-':>25}"
    verify = f"{f['verify']:6.0f} req/s (p99 {f['verify_p99']:6.1f} ms)" if "verify" in f else f"{'-':>25}"
    print(f"  {name:34} resolver {hits}   cold verify {verify}   scans {f['scans']:6.0f}/s", flush=True)


def ceiling(args: argparse.Namespace) -> None:
    """The ingestion row's parts alone, together, with recording on and off (`--ingestion-only`)."""
    for record in (True, False):
        env = {"TWINMARK_TRUSTED_PROXIES": "127.0.0.1/32"} | ({} if record else {"TWINMARK_SCANS_ENABLED": "false"})
        with service(ROOT, **env) as svc:
            headers, _ = svc.brand("Bench Ingestion", "BING")
            minted = mint(svc, args.twins + 2 * args.cold, headers)
            serials = [f"C{i}" for i in range(args.twins)]  # bench_verify_cold.mint names serials C0, C1, ...
            pool = minted[args.twins :]
            print(f"recording {'on' if record else 'off'}: load average {os.getloadavg()[0]:.1f}", flush=True)
            # Labels not resolved before in each row (a resolved one is answered from memory for a minute).
            half = len(serials) // 2
            alone = ingestion(svc, serials[:half], [], args.seconds, args.workers)
            show("resolver hits alone", alone)
            verified = ingestion(svc, serials, pool[: args.cold], args.seconds, args.workers, hits=False)
            show("cold verification alone", verified)
            together = ingestion(svc, serials[half:], pool[args.cold :], args.seconds, args.workers)
            show("both at once", together)
            dropped, waiting = together["dropped"], together["waiting"]
            print(f"  drops {dropped:.0f}, waiting {waiting:.0f}; load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=100_000, help="scans and taps fed (about)")
    parser.add_argument("--cold", type=int, default=6_000, help="extra twins, verified once each in the ingestion row")
    parser.add_argument("--workers", type=int, default=16, help="concurrent senders")
    parser.add_argument("--seconds", type=int, default=10, help="ingestion row duration (0: skip it)")
    parser.add_argument(
        "--ingestion-only",
        action="store_true",
        help="only the ingestion row, its parts alone and together, recording on then off (--cold: per row)",
    )
    args = parser.parse_args()
    if args.seconds and shutil.which("wrk") is None:
        sys.exit("wrk is needed for the ingestion row: apt-get install wrk (or --seconds 0)")
    if args.ingestion_only:
        ceiling(args)
        return
    rng = random.Random(args.seed)  # noqa: S311 - a seeded simulation, nothing secret
    nets = Networks(rng)
    load = os.getloadavg()
    started = time.monotonic()
    with service(TWINMARK_TRUSTED_PROXIES="127.0.0.1/32") as svc:
        headers, collection = svc.brand("Bench Intelligence", "BINT")
        minted = mint(svc, args.twins + (args.cold if args.seconds else 0), headers)
        twins = [Twin(c, t, f"C{i}") for i, (c, t) in enumerate(minted[: args.twins])]
        cold = minted[args.twins :]
        n = len(twins)
        order = list(range(n))
        rng.shuffle(order)
        nfc = order[: n // 5]
        master = rng.randbytes(16)
        meta_key = diversify.meta_read_key(master)
        for i, k in enumerate(nfc):
            if i % 2:
                key = hashlib.sha256(rng.randbytes(32)).digest()
                twins[k].tag = Tag("halo", key=key)
            else:
                uid = b"\x04" + rng.randbytes(6)
                twins[k].tag = Tag("ntag424", uid=uid, meta_key=meta_key, file_key=diversify.file_read_key(master, uid))
        few = max(1, n // 100)
        for k in nfc[:few]:
            twins[k].truth = "clone"
        for k in nfc[few : 2 * few]:
            twins[k].truth = "copied"
            twins[k].tag = twins[k].tag  # bound, never tapped
        for k in order[n // 5 : n // 5 + max(1, n // 50)]:
            twins[k].truth = "grey"
        enrol(svc, headers, twins, master, rng)
        r = httpx.put(
            f"{svc.url}/v1/alerts/policy", params={"contract": collection}, json={"markets": MARKETS}, headers=headers
        )
        r.raise_for_status()
        sim = build(rng, nets, twins, args.scans)
        captured = {}
        for t in twins:
            if t.truth == "clone":
                replay = [v for v in sim.lanes[t.token] if v.kind == "tap"]
                captured[t.token] = next(
                    _counter(v) for i, v in enumerate(replay) if any(w.params == v.params for w in replay[:i])
                )
        visits = sim.interleave()
        setup = time.monotonic() - started
        db = svc.data_dir / "twinmark.db"
        fed = time.monotonic()
        with Counting(db) as counting:
            sent, statuses = send(svc.url, visits, args.workers)
        took = time.monotonic() - fed
        settle(svc, headers)
        raised = alerts(svc, headers)
        print(
            f"seed {args.seed}: {n} twins ({len(nfc)} NFC-bound), {sent} requests in {took:.0f} s ({sent / took:.0f}/s)"
        )
        print(f"answers: {dict(sorted(statuses.items()))}; scans recorded {counting.rate():.0f}/s; setup {setup:.0f} s")
        print(f"load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; now {os.getloadavg()[0]:.1f}")
        ok = report(twins, raised, captured)
        if args.seconds:
            figures = ingestion(svc, [t.serial for t in twins], cold, args.seconds, args.workers)
            print(f"\ningestion: {args.seconds} s, {args.workers} clients each for resolver hits and cold verification")
            show("resolver hits + cold verification", figures)
            print(f"  targets: scans >= 1,000/s with cold verification >= 300/s; drops {figures['dropped']:.0f}")
        print(f"targets met (accuracy): {ok}")


def _counter(v: Visit) -> int:
    if "rnd" in v.params:
        return halo.rnd_counter(bytes.fromhex(v.params["rnd"]))
    return int(v.params.get("ctr", "0"), 16) if "ctr" in v.params else _sun_counter(v)


def _sun_counter(v: Visit) -> int:
    assert v.twin.tag is not None
    return sun.decrypt_picc(v.twin.tag.meta_key, bytes.fromhex(v.params["picc_data"])).counter


if __name__ == "__main__":
    main()
