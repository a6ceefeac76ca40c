"""The site's brand colour as CSS variables, with text colours that keep WCAG AA contrast (4.5:1)."""

import re

DEFAULT_PRIMARY = "#1d4ed8"


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _darken(hex_colour: str, factor: float) -> str:
    r, g, b = (int(int(hex_colour[i:i + 2], 16) * factor) for i in (1, 3, 5))
    return f"#{r:02x}{g:02x}{b:02x}"


def theme_css(theme: dict) -> str:
    """``--cc-primary`` (buttons), ``--cc-on-primary`` (their text) and ``--cc-link`` (links on white),
    each pair at least 4.5:1 whatever colour the site chose."""
    primary = theme.get("primary_color") or DEFAULT_PRIMARY
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", primary):
        primary = DEFAULT_PRIMARY
    on_primary = "#ffffff" if contrast(primary, "#ffffff") >= contrast(primary, "#000000") else "#000000"
    button = primary
    if contrast(button, on_primary) < 4.5 and on_primary == "#ffffff":
        while contrast(button, "#ffffff") < 4.5:
            button = _darken(button, 0.9)
    link = primary
    while contrast(link, "#ffffff") < 4.5:
        link = _darken(link, 0.9)
    return f":root{{--cc-primary:{button};--cc-on-primary:{on_primary};--cc-link:{link}}}"
