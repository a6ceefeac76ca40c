<?php
/**
 * Plugin Name: Customer Center
 * Description: The shortcode [customer_center] shows your members their Customer Center inside your own pages, in your theme. Settings → Customer Center: the Customer Center's address and your site's name there.
 * Version: 0.1.0
 * License: MIT
 *
 * One file, nothing else to install. The shortcode prints the same one-line snippet any site can
 * paste: <script src="https://<customer center>/embed.js" data-site="<site>"></script>. Your
 * WordPress site's address must be in the site's embed origins (admin API: PATCH /admin/api/site
 * {"embed_origins": ["https://www.example.com"]}), or browsers refuse to show it.
 *
 * [customer_center]                       the whole Customer Center
 * [customer_center section="invoices"]    one section: invoices, payments, orders, cards or account
 * [customer_center site="other-site"]     another site than the one in the settings
 */

if (!defined('ABSPATH')) {
    exit;
}

const CUSTOMER_CENTER_SECTIONS = array('invoices', 'payments', 'orders', 'cards', 'account');

function customer_center_shortcode($atts)
{
    $atts = shortcode_atts(
        array(
            'site' => get_option('customer_center_site', ''),
            'section' => '',
            'url' => get_option('customer_center_url', ''),
            'title' => 'Customer Center',
        ),
        $atts,
        'customer_center'
    );
    $url = rtrim((string) $atts['url'], '/');
    $site = strtolower(trim((string) $atts['site']));
    if ($url === '' || $site === '' || !preg_match('/^[a-z0-9][a-z0-9-]{0,62}$/', $site)) {
        return current_user_can('manage_options')
            ? '<p><strong>Customer Center:</strong> set its address and your site in Settings → Customer Center.</p>'
            : '';
    }
    $section = in_array($atts['section'], CUSTOMER_CENTER_SECTIONS, true) ? $atts['section'] : '';
    return sprintf(
        '<script src="%s" data-site="%s"%s data-title="%s"></script>',
        esc_url($url . '/embed.js'),
        esc_attr($site),
        $section === '' ? '' : sprintf(' data-section="%s"', esc_attr($section)),
        esc_attr($atts['title'])
    );
}
add_shortcode('customer_center', 'customer_center_shortcode');

function customer_center_settings()
{
    register_setting('customer_center', 'customer_center_url', array('sanitize_callback' => 'esc_url_raw'));
    register_setting('customer_center', 'customer_center_site', array('sanitize_callback' => 'sanitize_title'));
    add_settings_section('customer_center_main', '', '__return_false', 'customer_center');
    add_settings_field('customer_center_url', 'Customer Center address', 'customer_center_field_url', 'customer_center', 'customer_center_main');
    add_settings_field('customer_center_site', 'Your site there', 'customer_center_field_site', 'customer_center', 'customer_center_main');
}
add_action('admin_init', 'customer_center_settings');

function customer_center_field_url()
{
    printf('<input type="url" name="customer_center_url" value="%s" class="regular-text" placeholder="https://center.example.com">',
        esc_attr(get_option('customer_center_url', '')));
}

function customer_center_field_site()
{
    printf('<input type="text" name="customer_center_site" value="%s" class="regular-text" placeholder="demo">',
        esc_attr(get_option('customer_center_site', '')));
}

function customer_center_menu()
{
    add_options_page('Customer Center', 'Customer Center', 'manage_options', 'customer_center', 'customer_center_page');
}
add_action('admin_menu', 'customer_center_menu');

function customer_center_page()
{
    echo '<div class="wrap"><h1>Customer Center</h1><form method="post" action="options.php">';
    settings_fields('customer_center');
    do_settings_sections('customer_center');
    submit_button();
    echo '</form><p>Put <code>[customer_center]</code> on any page. Add this WordPress site\'s address to the embed origins of your site in the Customer Center.</p></div>';
}
