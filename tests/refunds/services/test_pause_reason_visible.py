"""A kill switch's required reason is one people can read: invisible characters are not a reason (an attack first).

`_clean` collapses whitespace with `str.split()`, which does not count the zero-width and other
format characters as whitespace, and the console form's strip does not either. A pause "with a
reason" of only invisible characters passes the service, the form and the CHECK constraint: the
banner, the audit event and the history then say nothing about why refunds stopped.
"""

from __future__ import annotations

import pytest

from core.actor import Actor
from core.errors import DomainError
from refunds.enums import PauseKind
from refunds.services.pauses import pause

pytestmark = pytest.mark.django_db

INVISIBLE = ["\u200b", "\u200b\u200c\u200d", "\u2060\ufeff", "\u00ad"]


@pytest.mark.parametrize("reason", INVISIBLE)
def test_a_reason_of_invisible_characters_is_no_reason(reason):
    with pytest.raises(DomainError):
        pause(PauseKind.SUBMISSION, provider="stripe", reason=reason, actor=Actor.system("test"))
