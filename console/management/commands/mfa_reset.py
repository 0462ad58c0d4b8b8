from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from console.mfa import mfa_reset
from core.actor import Actor


class Command(BaseCommand):
    help = (
        "Remove USERNAME's two-factor devices (authenticator and recovery codes) after a lost phone; "
        "they set up a new one at their next sign-in. Audited as staff.mfa_reset."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="Why (ticket number, how the person was identified)")

    def handle(self, *args, username: str, reason: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        removed = mfa_reset(user=user, actor=Actor.system("manage.py mfa_reset"), reason=reason)
        self.stdout.write(
            f"Removed {removed} two-factor device(s) of {username}; they enrol again at their next sign-in."
        )
