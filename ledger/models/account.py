from django.db import models

from ledger.enums import AccountKind


class Account(models.Model):
    """Chart of accounts. The code is the key, so postings need no lookup."""

    code = models.CharField(max_length=40, primary_key=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=AccountKind.choices)

    def __str__(self) -> str:
        return self.code
