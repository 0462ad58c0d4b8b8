from refunds.models.api_key import ApiKey
from refunds.models.customer import Customer
from refunds.models.decision import Decision
from refunds.models.evidence import EvidenceFile
from refunds.models.merchant import Merchant
from refunds.models.order import Order, OrderLine
from refunds.models.outbox import OutboxMessage
from refunds.models.pause import OperationsPause
from refunds.models.payment import Payment
from refunds.models.payout import PayoutTask
from refunds.models.policy import RefundPolicy
from refunds.models.refund import Refund
from refunds.models.refund_line import RefundLine
from refunds.models.webhook import WebhookEvent
from refunds.models.webhook_key import WebhookEventKey

__all__ = [
    "ApiKey",
    "Customer",
    "Decision",
    "EvidenceFile",
    "Merchant",
    "OperationsPause",
    "Order",
    "OrderLine",
    "OutboxMessage",
    "Payment",
    "PayoutTask",
    "Refund",
    "RefundLine",
    "RefundPolicy",
    "WebhookEvent",
    "WebhookEventKey",
]
