"""The default emails, one per event that causes one. A site may replace any of them (same fields)."""

from services.notify.templates.base import Template


def _html(body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><body style="font-family: sans-serif; line-height: 1.5">\n'
        + body.strip()
        + "\n<p style=\"color: #666\">{{ site_name }}</p>\n</body></html>\n"
    )


def _text(body: str) -> str:
    return body + "\n-- \n{{ site_name }}\n"


def _fields(*names: str) -> frozenset[str]:
    return frozenset(("first_name", "site_name") + names)


WELCOME = Template(
    name="welcome",
    event="auth.credentials.issued",
    description="A new login: the username and a single-use link to set the password.",
    subject="Welcome to {{ site_name }}: set your password",
    text=_text("""Hello {{ first_name }},

Welcome to {{ site_name }}. Your {{ level_name }} membership is ready.

Your username: {{ username }}

Set your password here (the link works once, until {{ expires_at }}):
{{ set_password_url }}

If you did not sign up, ignore this email.
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>Welcome to {{ site_name }}. Your <strong>{{ level_name }}</strong> membership is ready.</p>
<p>Your username: <strong>{{ username }}</strong></p>
<p><a href="{{ set_password_url }}">Set your password</a> (the link works once, until {{ expires_at }}).</p>
<p>If you did not sign up, ignore this email.</p>
"""),
    required=_fields("level_name", "username", "set_password_url", "expires_at"),
    secret=frozenset({"set_password_url"}),
)

CREDENTIALS_RESENT = Template(
    name="credentials_resent",
    event="auth.credentials.issued (resent)",
    description="The site resent the login details: a fresh set-password link, older ones no longer work.",
    subject="Your login details for {{ site_name }}",
    text=_text("""Hello {{ first_name }},

Here are your login details for {{ site_name }} ({{ level_name }}).

Your username: {{ username }}

Set a new password here (the link works once, until {{ expires_at }}; earlier links no longer work):
{{ set_password_url }}
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>Here are your login details for {{ site_name }} ({{ level_name }}).</p>
<p>Your username: <strong>{{ username }}</strong></p>
<p><a href="{{ set_password_url }}">Set a new password</a> (the link works once, until {{ expires_at }}; earlier links no longer work).</p>
"""),
    required=_fields("level_name", "username", "set_password_url", "expires_at"),
    secret=frozenset({"set_password_url"}),
)

PASSWORD_RESET = Template(
    name="password_reset",
    event="auth.password_reset.requested",
    description="A link to choose a new password.",
    subject="Reset your {{ site_name }} password",
    text=_text("""Hello {{ first_name }},

Someone (hopefully you) asked to reset the password of {{ username }} on {{ site_name }}.

Choose a new password here (the link works once, until {{ expires_at }}):
{{ reset_url }}

If it was not you, ignore this email: your password stays as it is.
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>Someone (hopefully you) asked to reset the password of <strong>{{ username }}</strong> on {{ site_name }}.</p>
<p><a href="{{ reset_url }}">Choose a new password</a> (the link works once, until {{ expires_at }}).</p>
<p>If it was not you, ignore this email: your password stays as it is.</p>
"""),
    required=_fields("username", "reset_url", "expires_at"),
    secret=frozenset({"reset_url"}),
)

PAYMENT_SUCCEEDED = Template(
    name="payment_succeeded",
    event="billing.payment.succeeded",
    description="A receipt: what was paid, with which card, and the link to the printable receipt.",
    subject="Your receipt from {{ site_name }}: {{ amount }} for {{ product_name }}",
    text=_text("""Hello {{ first_name }},

Thank you: we received {{ amount }} for {{ product_name }} on {{ paid_at }},
paid with your {{ card_brand }} card ending in {{ card_last4 }}.

Your receipt: {{ receipt_url }}
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>Thank you: we received <strong>{{ amount }}</strong> for {{ product_name }} on {{ paid_at }},
paid with your {{ card_brand }} card ending in {{ card_last4 }}.</p>
<p><a href="{{ receipt_url }}">View your receipt</a></p>
"""),
    required=_fields("amount", "product_name", "paid_at", "card_brand", "card_last4", "receipt_url"),
)

PAYMENT_FAILED = Template(
    name="payment_failed",
    event="billing.payment.failed",
    description="A charge failed and will be retried: the amount, the card, the retry date, a link to update the card.",
    subject="Your payment of {{ amount }} to {{ site_name }} did not go through",
    text=_text("""Hello {{ first_name }},

We could not charge {{ amount }} for {{ product_name }} to your card ending in {{ card_last4 }}.

We will try again on {{ retry_date }}. To use another card, update it here:
{{ update_card_url }}
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>We could not charge <strong>{{ amount }}</strong> for {{ product_name }} to your card ending in {{ card_last4 }}.</p>
<p>We will try again on <strong>{{ retry_date }}</strong>. To use another card,
<a href="{{ update_card_url }}">update it here</a>.</p>
"""),
    required=_fields("amount", "product_name", "card_last4", "retry_date", "update_card_url"),
)

PAYMENT_FAILED_FINAL = Template(
    name="payment_failed_final",
    event="billing.payment.failed (last attempt)",
    description="The last retry of a charge failed: no more retries; pay with another card to keep access.",
    subject="Your payment of {{ amount }} to {{ site_name }} failed: action needed",
    text=_text("""Hello {{ first_name }},

We could not charge {{ amount }} for {{ product_name }} to your card ending in {{ card_last4 }},
and we will not try again. To keep your access, add another card and pay here:
{{ update_card_url }}
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>We could not charge <strong>{{ amount }}</strong> for {{ product_name }} to your card ending in {{ card_last4 }},
and we will not try again.</p>
<p>To keep your access, <a href="{{ update_card_url }}">add another card and pay</a>.</p>
"""),
    required=_fields("amount", "product_name", "card_last4", "update_card_url"),
)

SUBSCRIPTION_CANCELLED = Template(
    name="subscription_cancelled",
    event="billing.subscription.cancelled",
    description="A subscription was cancelled: until when access lasts.",
    subject="Your {{ product_name }} subscription is cancelled",
    text=_text("""Hello {{ first_name }},

Your {{ product_name }} subscription with {{ site_name }} is cancelled. Nothing more will be charged.
Your access lasts until {{ access_ends_at }}.
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>Your {{ product_name }} subscription with {{ site_name }} is cancelled. Nothing more will be charged.</p>
<p>Your access lasts until <strong>{{ access_ends_at }}</strong>.</p>
"""),
    required=_fields("product_name", "access_ends_at"),
)

PAYMENT_PLAN_COMPLETED = Template(
    name="payment_plan_completed",
    event="billing.order.completed",
    description="The last installment of a payment plan was paid.",
    subject="{{ product_name }} is paid in full",
    text=_text("""Hello {{ first_name }},

Your payment plan for {{ product_name }} is complete: {{ installments_paid }} installments, {{ total }} in all.
Nothing more will be charged, and your access stays.
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>Your payment plan for {{ product_name }} is complete: {{ installments_paid }} installments,
<strong>{{ total }}</strong> in all.</p>
<p>Nothing more will be charged, and your access stays.</p>
"""),
    required=_fields("product_name", "installments_paid", "total"),
)

CARD_EXPIRING = Template(
    name="card_expiring",
    event="billing.card.expiry_approached",
    description="A card that pays open orders expires at the end of next month.",
    subject="Your {{ card_brand }} card ending in {{ card_last4 }} expires soon",
    text=_text("""Hello {{ first_name }},

Your {{ card_brand }} card ending in {{ card_last4 }} expires at the end of {{ expiry }}.
It pays your orders with {{ site_name }}. To keep them going, add a new card here:
{{ update_card_url }}
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>Your {{ card_brand }} card ending in {{ card_last4 }} expires at the end of <strong>{{ expiry }}</strong>.
It pays your orders with {{ site_name }}.</p>
<p>To keep them going, <a href="{{ update_card_url }}">add a new card</a>.</p>
"""),
    required=_fields("card_brand", "card_last4", "expiry", "update_card_url"),
)

USERNAME_CHANGED = Template(
    name="username_changed",
    event="auth.username.changed",
    description="The login's username changed (sent to the account's address).",
    subject="Your {{ site_name }} username was changed",
    text=_text("""Hello {{ first_name }},

The username of your {{ site_name }} account was changed on {{ changed_at }}
from {{ old_username }} to {{ new_username }}.

If you did not do this, reset your password now: {{ forgot_password_url }}
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>The username of your {{ site_name }} account was changed on {{ changed_at }}
from <strong>{{ old_username }}</strong> to <strong>{{ new_username }}</strong>.</p>
<p>If you did not do this, <a href="{{ forgot_password_url }}">reset your password now</a>.</p>
"""),
    required=_fields("old_username", "new_username", "changed_at", "forgot_password_url"),
)

PASSWORD_CHANGED = Template(
    name="password_changed",
    event="auth.password.changed",
    description="The password changed: so an account takeover is noticed.",
    subject="Your {{ site_name }} password was changed",
    text=_text("""Hello {{ first_name }},

The password of your {{ site_name }} account was changed on {{ changed_at }}, and your other sessions were logged out.

If you did not do this, reset your password now: {{ forgot_password_url }}
"""),
    html=_html("""
<p>Hello {{ first_name }},</p>
<p>The password of your {{ site_name }} account was changed on {{ changed_at }}, and your other sessions were logged out.</p>
<p>If you did not do this, <a href="{{ forgot_password_url }}">reset your password now</a>.</p>
"""),
    required=_fields("changed_at", "forgot_password_url"),
)

DEFAULTS: dict[str, Template] = {
    t.name: t
    for t in (
        WELCOME,
        CREDENTIALS_RESENT,
        PASSWORD_RESET,
        PAYMENT_SUCCEEDED,
        PAYMENT_FAILED,
        PAYMENT_FAILED_FINAL,
        SUBSCRIPTION_CANCELLED,
        PAYMENT_PLAN_COMPLETED,
        CARD_EXPIRING,
        USERNAME_CHANGED,
        PASSWORD_CHANGED,
    )
}

# What a site's own templates (sent by sequences) may use: what notify knows of every contact.
CONTACT_FIELDS = frozenset({"first_name", "last_name", "email", "site_name", "center_url"})
