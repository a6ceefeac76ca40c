"""Only an origin in the site's list, compared whole, is ever allowed to embed or read: 1,000
look-alikes of the allowed ones are all refused."""

import itertools

from services.gateway.embed import allowed_origin, frame_ancestors, normalise_origin

ALLOWED = ["https://partner.example", "http://localhost:8001"]


def look_alikes() -> list[str]:
    """1,000 origins that resemble the allowed ones (suffixes, prefixes, other schemes and ports,
    userinfo, homoglyphs, encodings, subdomains)."""
    hosts = ["partner.example", "localhost"]
    tricks = [
        lambda h: h + ".evil", lambda h: h + ".evil.com", lambda h: "evil" + h, lambda h: "evil-" + h,
        lambda h: "sub." + h, lambda h: h + ".", lambda h: h.replace("a", "\u0430"), lambda h: h.replace("e", "3"),
        lambda h: h.replace(".", "-"), lambda h: h + "x", lambda h: h[:-1], lambda h: h + "%2eevil",
        lambda h: h + "@evil.com", lambda h: "evil.com#" + h, lambda h: h.replace(".", "%2e"),
        lambda h: h.upper() + ".EVIL", lambda h: h + ".evil/", lambda h: "xn--" + h, lambda h: h + ":evil",
        lambda h: h + " evil.com", lambda h: h + "\\.evil", lambda h: h + "%00", lambda h: "www." + h,
        lambda h: h + ".localhost", lambda h: h.replace("l", "1").replace("o", "0"),
    ]
    schemes = ["https", "http", "wss", "ftp", "HTTPS"]
    ports = ["", ":8001", ":443", ":80", ":8002"]
    out = []
    for host, trick, scheme, port in itertools.product(hosts, tricks, schemes, ports):
        if trick(host) != host:
            out.append(f"{scheme}://{trick(host)}{port}")
    extras = ["null", "", "file://", "https://partner.example:8443", "http://partner.example", "https://localhost:8001",
            "http://localhost", "http://localhost:80010", "https://partner.example, https://evil.com",
            "https://evil.com https://partner.example", "'self'", "*"]
    return (extras + sorted(set(out)))[:1000]


def test_a_thousand_look_alike_origins_are_never_allowed():
    candidates = look_alikes()
    assert len(candidates) == 1000
    allowed = [o for o in candidates if allowed_origin(o, ALLOWED)]
    assert allowed == []


def test_the_listed_origins_are_allowed_in_their_normal_form():
    assert allowed_origin("https://partner.example", ALLOWED) == "https://partner.example"
    assert allowed_origin("https://PARTNER.example:443", ALLOWED) == "https://partner.example"
    assert allowed_origin("http://localhost:8001", ALLOWED) == "http://localhost:8001"
    assert normalise_origin("https://a.example/path") is None


def test_frame_ancestors_replaces_the_directive_and_keeps_the_rest():
    csp = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
    assert frame_ancestors(csp, ["https://partner.example"]) == (
        "default-src 'self'; form-action 'self'; frame-ancestors 'self' https://partner.example"
    )
    assert frame_ancestors(csp, []).endswith("frame-ancestors 'self'")
