"""What a scan keeps of a person, made coarse: networks (IPv4 /24, IPv6 /48), keyed session hashes,
user-agent classes."""

from __future__ import annotations

import pytest

from registry.scans import privacy


@pytest.mark.parametrize(
    ("client", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("8.8.8.8", "8.8.8.0/24"),
        # client_key gives IPv6 clients as their /64: cut to the /48
        ("2001:db8:abcd:12::/64", "2001:db8:abcd::/48"),
        ("2001:db8:abcd:12:3456:789a:bcde:f012", "2001:db8:abcd::/48"),
        ("::ffff:198.51.100.23", "198.51.100.0/24"),  # an IPv4 client on a dual-stack socket
        ("testclient", None),
        ("forwarded-unverified", None),
        ("", None),
        (None, None),
    ],
)
def test_networks_are_truncated(client: str | None, network: str | None) -> None:
    assert privacy.network(client) == network


def test_sessions_are_keyed_hashes_of_the_cookie() -> None:
    key, other = privacy.session_key("server-key-1"), privacy.session_key("server-key-2")
    cookie = "A" * 43
    session = privacy.session(key, cookie)
    assert session is not None and privacy.SESSION_REF.fullmatch(session)
    assert cookie not in session
    assert privacy.session(key, cookie) == session  # stable: one browser, one session
    assert privacy.session(other, cookie) != session  # another server key: unlinkable
    assert privacy.session(key, "B" * 43) != session
    assert privacy.session(key, None) is None


@pytest.mark.parametrize(
    ("user_agent", "kind"),
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
            "wechat",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/125.0 Mobile Safari/537.36 XWEB/1160117 MMWEBSDK/20240301 MicroMessenger/8.0.48",
            "wechat",
        ),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1", "ios"),
        ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 Chrome/125.0 Mobile Safari/537.36", "android"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/125.0 Safari/537.36", "desktop"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15", "desktop"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot"),
        ("WhatsApp/2.23.20.0 A", "bot"),
        ("curl/8.5.0", "bot"),
        ("python-httpx/0.27.0", "bot"),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/125.0 Safari/537.36", "bot"),
        ("", "other"),
        (None, "other"),
        ("SomethingElse/1.0", "other"),
    ],
)
def test_agent_classes(user_agent: str | None, kind: str) -> None:
    assert privacy.agent(user_agent) == kind
