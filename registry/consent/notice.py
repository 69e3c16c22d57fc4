# ruff: noqa: RUF001  (Chinese text takes full-width punctuation)
"""What an owner may share, for which purposes, and the bilingual notice they read before signing.

The SIWE statement grammar is ASCII without `"`, so the Chinese text cannot be in the signed message:
the message commits to the SHA-256 of the notice shown (English, a blank line, Chinese), and a grant
is accepted only if that hash is the notice the service would show for the same brand, recipient,
fields and purpose now (a notice changed in between must be read and signed again).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# The contact details and preferences an owner may share (the sealed payload holds only these).
FIELDS = ("name", "email", "phone", "language", "preferences")
FIELD_TEXT = {
    "name": ("your name", "您的姓名"),
    "email": ("your e-mail address", "您的电子邮箱"),
    "phone": ("your phone number", "您的电话号码"),
    "language": ("your preferred language", "您偏好的语言"),
    "preferences": ("your preferences (topics you chose)", "您的偏好（您选择的主题）"),
}
PURPOSES = {
    "care": ("to offer repair and care services for the items you own", "为您拥有的物品提供维修和保养服务"),
    "events": ("to invite you to owners' events", "邀请您参加品牌为物品持有人举办的活动"),
    "news": ("to send you news and offers about its collections", "向您发送其系列的新闻和优惠"),
}
# Mainland China: Hong Kong, Macao and Taiwan are outside it for PIPL's cross-border rules.
MAINLAND_CHINA = "CN"


@dataclass(frozen=True)
class Recipient:
    """Who receives the data (the brand's controller), as the brand states it."""

    name: str
    contact: str
    country: str  # ISO 3166-1 alpha-2

    @property
    def abroad(self) -> bool:
        """Outside mainland China (PIPL's cross-border transfer)."""
        return self.country != MAINLAND_CHINA


@dataclass(frozen=True)
class Notice:
    en: str
    zh: str

    @property
    def text(self) -> str:
        """Exactly what is hashed (and shown: English, then Chinese)."""
        return f"{self.en}\n\n{self.zh}"

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.text.encode()).hexdigest()


def _fields(fields: list[str], lang: int) -> str:
    return ("; " if lang == 0 else "；").join(FIELD_TEXT[f][lang] for f in fields)


def share_notice(recipient: Recipient, fields: list[str], purpose: str) -> Notice:
    what_en, what_zh = _fields(fields, 0), _fields(fields, 1)
    why_en, why_zh = PURPOSES[purpose]
    en = (
        f"You share with {recipient.name} ({recipient.contact}, {recipient.country}): {what_en}. "
        f"Purpose: {why_en}. Only these details go to the brand, and only while you own one of its items "
        "and this consent has not expired. You can revoke it at any time on this page without signing "
        "again; your details are then deleted from Twinmark and leave the brand's next export. "
        "The signed message stays as proof of what you agreed to; it holds your address, not your details."
    )
    zh = (
        f"您与 {recipient.name}（{recipient.contact}，{recipient.country}）共享：{what_zh}。"
        f"目的：{why_zh}。品牌只会收到这些信息，且仅在您拥有其物品且本同意未过期期间。"
        "您可以随时在本页撤回同意，无需再次签名；您的信息随即从 Twinmark 删除，并不再出现在品牌的下一次导出中。"
        "已签名的消息作为您同意内容的证明保留；其中只有您的地址，没有您的个人信息。"
    )
    return Notice(en, zh)


PROCESSING = (
    "stored by the recipient and used to contact you for the stated purpose",
    "由接收方存储，并用于为上述目的与您联系",
)
RIGHTS = (
    "revoke in Twinmark at any time; to access, correct or delete what the recipient holds, write to its contact",
    "可随时在 Twinmark 撤回；如需查阅、更正或删除接收方持有的信息，请联系其联系方式",
)


def cross_border_notice(recipient: Recipient, fields: list[str], purpose: str) -> Notice:
    """PIPL art. 39: the foreign recipient's name and contact, the purpose, the way of processing, the
    categories of personal information, and how to exercise one's rights with the recipient."""
    en = (
        "Separate consent to provide personal information outside mainland China (PIPL art. 39). "
        f"Recipient: {recipient.name}, contact {recipient.contact}, in {recipient.country}. "
        f"Purpose: {PURPOSES[purpose][0]}. Processing: {PROCESSING[0]}. "
        f"Categories: {_fields(fields, 0)}. Your rights: {RIGHTS[0]}."
    )
    zh = (
        "向中国境外提供个人信息的单独同意（《个人信息保护法》第三十九条）。"
        f"境外接收方：{recipient.name}，联系方式 {recipient.contact}，位于 {recipient.country}。"
        f"处理目的：{PURPOSES[purpose][1]}。处理方式：{PROCESSING[1]}。"
        f"个人信息种类：{_fields(fields, 1)}。行使权利的方式：{RIGHTS[1]}。"
    )
    return Notice(en, zh)
