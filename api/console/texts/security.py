"""Texts of the Security page: staff, invites, keys, compromise reports, the audit log."""

from __future__ import annotations

EN = {
    "security.title": "Security",
    "security.staff.title": "Staff",
    "security.staff.name": "Name",
    "security.staff.role": "Role",
    "security.staff.role_of": "Role of {name}",
    "security.staff.since": "Member since",
    "security.staff.state": "Access",
    "security.staff.change": "Change role",
    "security.staff.disable": "Disable {name}",
    "security.staff.disabled": "Disabled",
    "security.staff.note": "Changing a role or disabling a member signs them out everywhere at once.",
    "security.invites.title": "Invites",
    "security.invites.name": "Name of the new member",
    "security.invites.create": "Create invite link",
    "security.invites.link": "Invite link for {name}",
    "security.invites.once": (
        "Copy it now and send it to them privately: it is shown only once, works once, and expires."
    ),
    "security.invites.expires": "Expires",
    "security.invites.revoke": "Revoke",
    "security.invites.revoke_for": "Revoke the invite for {name}",
    "security.keys.title": "API keys",
    "security.keys.body": "Keys for your systems are created, rotated and revoked on the Integrations page.",
    "security.compromise.title": "Report a compromise",
    "security.compromise.lead": (
        "If your brand's keys were stolen, say since when (UTC). Twins "
        "minted or changed from then on will fail verification."
    ),
    "security.compromise.since": "Compromised since (UTC)",
    "security.compromise.review": "Review the report",
    "security.compromise.confirm_title": "Confirm the compromise report",
    "security.compromise.effect_twins": (
        "Every twin minted or changed since {since} will fail verification on the buyer's page."
    ),
    "security.compromise.effect_keys": (
        "All of your brand's API keys stop working at once; the operator issues a new one."
    ),
    "security.compromise.effect_undo": (
        "It is recorded on the chain and cannot be undone; the window closes when the operator resolves it."
    ),
    "security.compromise.buyer": "Buyers of those twins will read:",
    "security.compromise.tick": "I understand: report the compromise",
    "security.compromise.confirm": "Report the compromise",
    "security.compromise.cancel": "Cancel",
    "security.compromise.done": "Compromise reported since {since}; {keys} API keys revoked.",
    "security.audit.title": "Audit log",
    "security.audit.at": "When",
    "security.audit.who": "Who",
    "security.audit.action": "Action",
    "security.audit.outcome": "Outcome",
    "security.audit.detail": "Detail",
    "security.audit.anyone": "Anyone",
    "security.audit.any": "Any",
    "security.audit.filter": "Filter",
    "security.audit.outcome.ok": "done",
    "security.audit.outcome.refused": "refused",
    "security.audit.outcome.failed": "failed",
}

ZH = {
    "security.title": "安全",
    "security.staff.title": "员工",
    "security.staff.name": "姓名",
    "security.staff.role": "角色",
    "security.staff.role_of": "{name} 的角色",
    "security.staff.since": "加入时间",
    "security.staff.state": "访问权限",
    "security.staff.change": "更改角色",
    "security.staff.disable": "停用 {name}",
    "security.staff.disabled": "已停用",
    "security.staff.note": "更改角色或停用成员会立即使其在所有设备上退出登录。",
    "security.invites.title": "邀请",
    "security.invites.name": "新成员的姓名",
    "security.invites.create": "创建邀请链接",
    "security.invites.link": "{name} 的邀请链接",
    "security.invites.once": "请立即复制并私下发送给对方：此链接只显示一次，只能使用一次，并会过期。",
    "security.invites.expires": "过期时间",
    "security.invites.revoke": "撤销",
    "security.invites.revoke_for": "撤销 {name} 的邀请",
    "security.keys.title": "API 密钥",
    "security.keys.body": "系统使用的密钥在“集成”页面创建、轮换和撤销。",
    "security.compromise.title": "报告密钥泄露",
    "security.compromise.lead": (
        "如果品牌的密钥被盗，请说明自何时起（UTC）。自该时间起铸造或修改的数字孪生将无法通过验证。"
    ),
    "security.compromise.since": "泄露起始时间（UTC）",
    "security.compromise.review": "检查报告",
    "security.compromise.confirm_title": "确认泄露报告",
    "security.compromise.effect_twins": "自 {since} 起铸造或修改的每个数字孪生，在买家页面上都将无法通过验证。",
    "security.compromise.effect_keys": "品牌的所有 API 密钥立即失效；由运营方签发新密钥。",
    "security.compromise.effect_undo": "此报告记录在区块链上，无法撤销；运营方处理后泄露时段结束。",
    "security.compromise.buyer": "这些数字孪生的买家将看到：",
    "security.compromise.tick": "我已了解：报告此次泄露",
    "security.compromise.confirm": "报告泄露",
    "security.compromise.cancel": "取消",
    "security.compromise.done": "已报告自 {since} 起的泄露；已撤销 {keys} 个 API 密钥。",
    "security.audit.title": "审计日志",
    "security.audit.at": "时间",
    "security.audit.who": "操作人",
    "security.audit.action": "操作",
    "security.audit.outcome": "结果",
    "security.audit.detail": "详情",
    "security.audit.anyone": "任何人",
    "security.audit.any": "全部",
    "security.audit.filter": "筛选",
    "security.audit.outcome.ok": "已完成",
    "security.audit.outcome.refused": "已拒绝",
    "security.audit.outcome.failed": "失败",
}
