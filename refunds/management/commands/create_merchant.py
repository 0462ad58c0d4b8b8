from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor
from core.errors import DomainError
from refunds.services.merchants import merchant_create


class Command(BaseCommand):
    help = "Onboard a merchant (tenant) named SLUG; then mint its keys with create_api_key --merchant SLUG."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="Lower-case letters, digits and hyphens, e.g. acme-shop")
        parser.add_argument("--name", default="", help="The merchant's name as staff see it in the console")
        parser.add_argument(
            "--email", default="", help="The merchant's technical contact: told when a webhook endpoint is disabled"
        )

    def handle(self, *args, slug: str, name: str, email: str, **options) -> None:
        try:
            merchant = merchant_create(
                slug=slug, name=name, contact_email=email, actor=Actor.system("manage.py create_merchant")
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Merchant {merchant.slug} created" + (f" ({merchant.name})" if merchant.name else "") + ".")
