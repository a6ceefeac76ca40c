"""The one-file WordPress plugin, run by PHP with just enough of WordPress stubbed: the shortcode
prints the embed snippet (escaped), one section when asked, and nothing usable when unset."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[3] / "deploy/wordpress/customer-center.php"

STUBS = r"""<?php
define('ABSPATH', '/');
$GLOBALS['options'] = json_decode($argv[1], true);
$GLOBALS['shortcodes'] = array();
function get_option($name, $default = false) { return $GLOBALS['options'][$name] ?? $default; }
function shortcode_atts($pairs, $atts, $tag = '') {
    $out = array();
    foreach ($pairs as $name => $default) { $out[$name] = array_key_exists($name, (array) $atts) ? $atts[$name] : $default; }
    return $out;
}
function esc_url($u) { return htmlspecialchars($u, ENT_QUOTES); }
function esc_attr($s) { return htmlspecialchars((string) $s, ENT_QUOTES); }
function current_user_can($c) { return $GLOBALS['options']['_admin'] ?? false; }
function add_shortcode($tag, $fn) { $GLOBALS['shortcodes'][$tag] = $fn; }
function add_action($hook, $fn) {}
require $argv[2];
echo call_user_func($GLOBALS['shortcodes']['customer_center'], json_decode($argv[3], true));
"""


def shortcode(tmp_path, options: dict, atts: dict) -> str:
    php = shutil.which("php")
    if php is None:
        pytest.fail("php is needed to run the WordPress plugin (make test installs php-cli; or apt-get install php-cli)")
    stubs = tmp_path / "wordpress.php"
    stubs.write_text(STUBS)
    result = subprocess.run(
        [php, str(stubs), json.dumps(options), str(PLUGIN), json.dumps(atts)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


SETTINGS = {"customer_center_url": "https://center.example.com/", "customer_center_site": "demo"}


def test_the_shortcode_prints_the_embed_snippet(tmp_path):
    assert shortcode(tmp_path, SETTINGS, {}) == (
        '<script src="https://center.example.com/embed.js" data-site="demo" data-title="Customer Center"></script>'
    )


def test_one_section_and_another_site(tmp_path):
    html = shortcode(tmp_path, SETTINGS, {"section": "invoices", "site": "Other-Site"})
    assert 'data-site="other-site"' in html and 'data-section="invoices"' in html


def test_unknown_sections_and_hostile_values_never_reach_the_page(tmp_path):
    html = shortcode(tmp_path, SETTINGS, {"section": "x\" onload=\"alert(1)", "title": "<b>\"hi\"</b>"})
    assert "data-section" not in html and "onload" not in html.replace("&quot;", "")
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert shortcode(tmp_path, SETTINGS, {"site": "bad site\"><script>"}) == ""


def test_unset_settings_show_nothing_to_visitors_and_a_hint_to_admins(tmp_path):
    assert shortcode(tmp_path, {}, {}) == ""
    assert "Settings" in shortcode(tmp_path, {"_admin": True}, {})
