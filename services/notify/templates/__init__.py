"""Templates: the strict sandboxed renderer (``base``) and the default emails (``defaults``)."""

from services.notify.templates.base import (
    InvalidTemplate,
    MissingMergeFields,
    Rendered,
    Template,
    UndeclaredMergeField,
)
from services.notify.templates.defaults import CONTACT_FIELDS, DEFAULTS, WELCOME

TEMPLATES = DEFAULTS

__all__ = [
    "CONTACT_FIELDS",
    "DEFAULTS",
    "TEMPLATES",
    "WELCOME",
    "InvalidTemplate",
    "MissingMergeFields",
    "Rendered",
    "Template",
    "UndeclaredMergeField",
]
