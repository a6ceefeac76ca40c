"""A payment's printable receipt (HTML, every value escaped)."""

from html import escape

from services.billing.domain import format_money


def render_receipt(payment, contact) -> str:
    def e(value) -> str:
        return escape(str(value)) if value is not None else ""

    period = ""
    if payment["period_end"] is not None:
        period = f"<tr><th>Period</th><td>{e(payment['period_start'].date())} – {e(payment['period_end'].date())}</td></tr>"
    refunded = ""
    if payment["amount_refunded"]:
        refunded = f"<tr><th>Refunded</th><td>{e(format_money(payment['amount_refunded'], payment['currency']))}</td></tr>"
    name = f"{contact['first_name']} {contact['last_name']}".strip() if contact else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Receipt {e(payment['id'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto}}th{{text-align:left;padding-right:2em}}
@media print{{button{{display:none}}}}</style></head>
<body>
<h1>Receipt</h1>
<p>{e(name)}<br>{e(contact['email'] if contact else '')}</p>
<table>
<tr><th>Receipt number</th><td>{e(payment['id'])}</td></tr>
<tr><th>Date</th><td>{e(payment['created_at'].strftime('%Y-%m-%d %H:%M UTC'))}</td></tr>
<tr><th>Item</th><td>{e(payment['product_name'])} (#{e(payment['sequence'])})</td></tr>
{period}
<tr><th>Amount paid</th><td>{e(format_money(payment['amount'], payment['currency']))}</td></tr>
<tr><th>Paid with</th><td>{e((payment['card_brand'] or '').title())} ending in {e(payment['card_last4'])}</td></tr>
<tr><th>Status</th><td>{e(payment['status'])}</td></tr>
{refunded}
</table>
<p><button onclick="window.print()">Print</button></p>
</body></html>
"""
