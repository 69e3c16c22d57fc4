"""Texts of the consented owners' page (the owners who chose to share details with the brand)."""

from __future__ import annotations

EN = {
    "owners.title": "Consented owners",
    "owners.intro": (
        "Owners who signed a consent to share contact details with you, while it is current: not revoked,"
        " not expired, and the owner still holds one of your items. Only the details each owner chose are shown."
    ),
    "owners.recipient": "Recipient named in owners' notices",
    "owners.recipient.name": "Name",
    "owners.recipient.contact": "Contact",
    "owners.recipient.country": "Country",
    "owners.recipient.none": "Not stated yet: owners cannot be asked for consent until your API key states it.",
    "owners.export.csv": "Download as CSV",
    "owners.export.json": "Download as JSON",
    "owners.audited": "Viewing and downloading this list is written to your brand's audit log.",
    "owners.address": "Owner",
    "owners.purpose": "Purpose",
    "owners.purpose.care": "Repair and care",
    "owners.purpose.events": "Owners' events",
    "owners.purpose.news": "News and offers",
    "owners.field.name": "Name",
    "owners.field.email": "E-mail",
    "owners.field.phone": "Phone",
    "owners.field.language": "Language",
    "owners.field.preferences": "Preferences",
    "owners.not_shared": "not shared",
    "owners.cross_border": "Cross-border consent",
    "owners.yes": "Yes",
    "owners.no": "No",
    "owners.expires": "Until",
    "owners.none": "No owner has a current consent with you.",
    "owners.more": "{count} more owners are in the downloads.",
}

ZH = {
    "owners.title": "已同意的物主",
    "owners.intro": (
        "签署同意、与您共享联系方式的物主，仅限同意仍然有效时：未撤回、未过期，且物主仍持有您的物品。"
        "只显示每位物主选择共享的信息。"
    ),
    "owners.recipient": "物主告知中列明的接收方",
    "owners.recipient.name": "名称",
    "owners.recipient.contact": "联系方式",
    "owners.recipient.country": "国家或地区",
    "owners.recipient.none": "尚未说明：在您的 API 密钥说明接收方之前，无法请求物主同意。",
    "owners.export.csv": "下载 CSV",
    "owners.export.json": "下载 JSON",
    "owners.audited": "查看和下载此列表会记录在您品牌的审计日志中。",
    "owners.address": "物主",
    "owners.purpose": "目的",
    "owners.purpose.care": "维修与保养",
    "owners.purpose.events": "物主活动",
    "owners.purpose.news": "新闻与优惠",
    "owners.field.name": "姓名",
    "owners.field.email": "电子邮箱",
    "owners.field.phone": "电话",
    "owners.field.language": "语言",
    "owners.field.preferences": "偏好",
    "owners.not_shared": "未共享",
    "owners.cross_border": "跨境同意",
    "owners.yes": "是",
    "owners.no": "否",
    "owners.expires": "有效期至",
    "owners.none": "目前没有物主与您有有效的同意。",
    "owners.more": "另有 {count} 位物主，请见下载文件。",
}
