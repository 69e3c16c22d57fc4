"""Labels for the print shop: a job's minted physical twins as one ZIP, one SVG and one PNG QR code
per twin (its GS1 Digital Link) and a `labels.csv` manifest. The archive is streamed as it is
written (zip data descriptors), so a 50,000-twin job never sits in memory."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from sqlmodel import Session, col, select

from registry.errors import Conflict
from registry.jobs.models import Job
from registry.labels import qr
from registry.twins.models import Twin
from registry.twins.service import twin_digital_link, twin_lot

MANIFEST_FIELDS = ("contract", "token_id", "gtin", "serial", "lot", "link", "svg", "png")


@dataclass(frozen=True)
class Label:
    contract: str
    token_id: int
    gtin: str
    serial: str
    lot: str | None
    link: str

    @property
    def stem(self) -> str:
        """`{gtin}_{serial}`, the serial percent-encoded: set 82 allows `/`, `:`, `*`, `?`, `"`, `<`,
        `>`, which are unsafe in file names (and `/` would make a folder); the encoding is reversible."""
        return f"{self.gtin}_{quote(self.serial, safe='-_.')}"


def job_labels(session: Session, job: Job, base_url: str) -> list[Label]:
    """The job's twins minted so far (recorded in the registry), physical ones only, by token id.
    Conflict when there is none yet."""
    twins = session.exec(
        select(Twin).where(Twin.job_id == job.id, Twin.kind == "physical").order_by(col(Twin.token_id))
    ).all()
    labels = []
    for t in twins:
        if t.gtin is None or t.serial is None:
            continue
        labels.append(Label(t.collection, t.token_id, t.gtin, t.serial, twin_lot(t), twin_digital_link(t, base_url)))
    if not labels:
        raise Conflict(f"job {job.id} has no minted physical twin yet (state: {job.state}); labels follow the mint")
    return labels


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets an apostrophe (OWASP
    CSV injection); serials may start with `-` or `+` (set 82)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def manifest(labels: list[Label]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MANIFEST_FIELDS)
    for lb in labels:
        row = (lb.contract, lb.token_id, lb.gtin, lb.serial, lb.lot or "", lb.link, f"{lb.stem}.svg", f"{lb.stem}.png")
        writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode()


class _Pipe(io.RawIOBase):
    """A write-only, unseekable sink: zipfile then writes data descriptors and never seeks back."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def labels_zip(labels: list[Label], size: int = qr.DEFAULT_SIZE) -> Iterator[bytes]:
    """The archive, chunk by chunk: `labels.csv` first, then `{stem}.svg` and `{stem}.png` per twin."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("labels.csv", manifest(labels))
        yield pipe.take()
        for lb in labels:
            archive.writestr(f"{lb.stem}.svg", qr.svg(lb.link, size))
            archive.writestr(f"{lb.stem}.png", qr.png(lb.link, size), compress_type=zipfile.ZIP_STORED)
            yield pipe.take()
    yield pipe.take()
