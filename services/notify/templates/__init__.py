"""Templates: the strict sandboxed renderer (``base``) and the default emails (``defaults``)."""

from services.notify.templates.base import (
    InvalidTemplate,
    MissingMergeFields,
    Rendered,
    Template,
    UndeclaredMergeField,
)
from services.notify.templates.defaults import CONTACT_FIELDS, DEFAULTS, WELCOME
from services.notify.templates.samples import SAMPLE_CONTACT, sample_fields

TEMPLATES = DEFAULTS

__all__ = [
    "CONTACT_FIELDS",
    "DEFAULTS",
    "TEMPLATES",
    "WELCOME",
    "InvalidTemplate",
    "MissingMergeFields",
    "SAMPLE_CONTACT",
    "Rendered",
    "Template",
    "UndeclaredMergeField",
    "sample_fields",
]
