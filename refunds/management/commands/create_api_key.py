from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from refunds.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Mint an API key for USERNAME (created if needed). The key is printed once, as the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scopes", required=True, help="Comma-separated, e.g. refunds:create,refunds:read")
        parser.add_argument("--role", help="Add the user to this role group (agent, senior_agent, …)")
        parser.add_argument(
            "--merchant", help="The slug of the merchant whose data the key reaches (default: the default merchant)"
        )
        parser.add_argument("--name", default="", help="A label for the key")

    def handle(
        self, *args, username: str, scopes: str, role: str | None, merchant: str | None, name: str, **options
    ) -> None:
        try:
            key, raw = api_key_create(
                username=username,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                role=role,
                merchant=merchant,
                name=name,
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stderr.write(
            f"API key {key.prefix} for {username} of merchant {key.merchant.slug} "
            f"with scopes {','.join(key.scopes)}; shown once:"
        )
        self.stdout.write(raw)
