# ruff: noqa: RUF001  (Chinese text takes full-width punctuation)
"""Texts of the owner's consent block (`api/templates/_consent.html`, `api/static/consent.js`), in
English and Simplified Chinese. The page that includes the block passes `partial_context(...)`."""

from __future__ import annotations

from typing import Any

from registry.consent.notice import FIELDS, PURPOSES

EN = {
    "title": "Share your details with {brand}",
    "intro": "Choose what to share and why. You sign a message; you can revoke it here at any time.",
    "fields": "What to share",
    "field.name": "Name",
    "field.email": "E-mail",
    "field.phone": "Phone",
    "field.language": "Preferred language",
    "field.preferences": "Preferences (comma-separated topics)",
    "purpose": "Why",
    "purpose.care": "Repair and care services",
    "purpose.events": "Owners' events",
    "purpose.news": "News and offers",
    "mainland_china": "I live in mainland China",
    "prepare": "Show what I will sign",
    "notice": "Please read before signing",
    "message": "The message you sign",
    "sign": "Sign and share",
    "cross_border": "Your details would leave mainland China: this needs a separate consent.",
    "sign_cross_border": "Sign the cross-border consent",
    "mine": "Your consents",
    "none": "You have not shared details with any brand.",
    "revoke": "Revoke",
    "state.current": "Shared",
    "state.needs-cross-border": "Waiting for your cross-border consent",
    "state.not-an-owner": "Paused: you no longer own an item of this brand",
    "state.recipient-changed": "Paused: the brand's recipient changed",
    "state.expired": "Expired",
    "state.revoked": "Revoked",
    "error": "Something went wrong:",
    "done": "Done.",
}
ZH = {
    "title": "与 {brand} 共享您的信息",
    "intro": "选择要共享的内容和目的。您将签署一条消息；可随时在此撤回。",
    "fields": "共享内容",
    "field.name": "姓名",
    "field.email": "电子邮箱",
    "field.phone": "电话",
    "field.language": "偏好语言",
    "field.preferences": "偏好（以逗号分隔的主题）",
    "purpose": "目的",
    "purpose.care": "维修与保养服务",
    "purpose.events": "物主活动",
    "purpose.news": "新闻与优惠",
    "mainland_china": "我居住在中国大陆",
    "prepare": "显示我将签署的内容",
    "notice": "签署前请阅读",
    "message": "您将签署的消息",
    "sign": "签署并共享",
    "cross_border": "您的信息将被提供至中国境外：这需要单独同意。",
    "sign_cross_border": "签署跨境同意",
    "mine": "您的同意",
    "none": "您尚未与任何品牌共享信息。",
    "revoke": "撤回",
    "state.current": "已共享",
    "state.needs-cross-border": "等待您的跨境同意",
    "state.not-an-owner": "已暂停：您不再拥有该品牌的物品",
    "state.recipient-changed": "已暂停：品牌的接收方已变更",
    "state.expired": "已过期",
    "state.revoked": "已撤回",
    "error": "出错了：",
    "done": "完成。",
}
assert set(EN) == set(ZH)
assert {f"field.{f}" for f in FIELDS} | {f"purpose.{p}" for p in PURPOSES} <= set(EN)


SESSION_KEY = "tm_player_session"  # the sessionStorage entry holding the owner's session token


def partial_context(lang: str, brand_id: str, brand_name: str, token_key: str = SESSION_KEY) -> dict[str, Any]:
    """What `{% include "_consent.html" %}` needs: `consent` (texts, brand, the fields and purposes,
    and the sessionStorage key under which the page keeps the owner's `tms_...` session token)."""
    texts = ZH if lang == "zh-CN" else EN
    return {
        "consent": {
            "t": {k: v.format(brand=brand_name) for k, v in texts.items()},
            "lang": lang,
            "brand_id": brand_id,
            "fields": FIELDS,
            "purposes": tuple(PURPOSES),
            "token_key": token_key,
        }
    }
