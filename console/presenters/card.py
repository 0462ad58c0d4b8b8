"""The refund card: the refund, what it is measured against, and what this user may do now."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch
from django.urls import reverse

from console.presenters.formatting import money
from notifications.replies import refund_language, reply_render
from refunds.enums import (
    ACTIVE_STATES,
    DecisionKind,
    PolicyOutcome,
    Recommendation,
    RefundInstrument,
    RefundState,
)
from refunds.models import Decision, EvidenceFile, Order, OrderLine, Refund, RefundLine
from refunds.permissions import (
    ADMINISTERS_ACCESS_MESSAGE,
    ApprovalRefusal,
    approval_refusal,
    decide_refusal,
    edit_refusal,
)
from refunds.replies import placeholders_allowed_text
from refunds.selectors import policy_reply, reply_declines
from refunds.services.policy import high_value_threshold_minor, is_high_value, policy_decline_draft


def console_refund(*, public_id: str) -> Refund | None:
    return (
        Refund.objects.select_related(
            "order", "order__customer", "order__merchant", "payment", "policy_version", "requested_by"
        )
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.select_related("actor")),
            Prefetch("order__lines", queryset=OrderLine.objects.order_by("line_no")),
            Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")),
            "evidence_files",
        )
        .filter(public_id=public_id)
        .first()
    )


@dataclass(frozen=True)
class CardLine:
    description: str
    sku: str
    quantity: int
    tax: str
    total: str
    refunded: int = 0  # an order line: units held by refunds by line in an active state


@dataclass(frozen=True)
class EvidenceRef:
    """One evidence item besides this refund's own files: a typed reference, a file uploaded with an
    earlier refund of the order, or (refunds from before typed evidence) a plain string."""

    kind: str  # photo, document, url, file; "" for a plain string
    label: str
    href: str = ""  # an https reference, or the console download of an earlier refund's file


def evidence_refs(refund: Refund) -> list[EvidenceRef]:
    """`refund.evidence` as the card lists it, after the files attached to the refund itself."""
    own = {f.pk for f in refund.evidence_files.all()}
    own_names = {f.original_name for f in refund.evidence_files.all()}
    file_ids = [i.get("file_id") for i in refund.evidence if isinstance(i, dict) and i.get("type") == "file"]
    file_ids = [pk for pk in file_ids if isinstance(pk, int)]
    others = {
        f.pk: f
        for f in EvidenceFile.objects.filter(pk__in=set(file_ids) - own, refund__order_id=refund.order_id)
        .select_related("refund")
        .only("pk", "original_name", "refund__public_id")
    }
    refs = []
    for item in refund.evidence:
        if not isinstance(item, dict):
            if str(item) not in own_names:  # older refunds named their uploaded files
                refs.append(EvidenceRef(kind="", label=str(item)))
        elif item.get("type") == "file":
            other = others.get(item.get("file_id"))
            if other is not None:
                href = reverse("console:evidence", args=[other.refund.public_id, other.pk])
                refs.append(
                    EvidenceRef(kind="file", label=f"{other.original_name} ({other.refund.public_id})", href=href)
                )
        else:
            uri = str(item.get("uri", ""))
            # Links only to https: what the API accepted; anything else stored some other way stays text.
            refs.append(
                EvidenceRef(kind=str(item.get("type", "")), label=uri, href=uri if uri.startswith("https://") else "")
            )
    return refs


@dataclass(frozen=True)
class RefundCard:
    """The approval card: the refund, what it is measured against, and what this user may do."""

    refund: Refund
    amount: str
    captured: str
    remaining: str
    # What an edit may set the amount to: the payment's remaining plus what this refund already holds.
    available: str
    lines: list[CardLine]
    # What this refund takes back: its lines (by line) or the arithmetic of the time not used.
    refund_lines: list[CardLine]
    proration_text: str
    # Why the amount cannot be edited ("" when it can): it is the worth of lines or the policy's arithmetic.
    amount_fixed: str
    approvals: list[Decision]
    edits: list[Decision]
    evidence_refs: list[EvidenceRef]
    is_open: bool
    can_decide: bool
    can_approve: bool
    can_edit: bool
    approve_blocker: str
    approve_is_override: bool
    decline_is_override: bool
    # The draft is still the policy's decline reply: approving needs an approval reply first
    # (refunds.selectors.reply_declines).
    reply_declines: bool
    # The reply the policy drafted, before any edit (edits keep what they replaced).
    original_reply: str = ""
    # The policy's high-value threshold for the refund's currency (formatted; "" when it has none), and
    # whether the amount is above it: approving then asks for one explicit confirmation (console.views.card).
    high_value_threshold: str = ""
    high_value: bool = False
    # The draft as the customer will read it: the template rendered from the refund as it is now, in their
    # language (notifications.replies), so an amount edit shows in the preview at once.
    reply_preview: str = ""
    language: str = "en"
    # What the decline form offers: the policy's decline draft (the refund's own when the policy recommends
    # declining, else the policy version's decline template in the customer's language).
    decline_draft: str = ""
    # A declined refund: the message the customer got (rendered) and the internal rationale (staff only).
    decline_message: str = ""
    decline_rationale: str = ""
    placeholders: str = ""
    # How the customer gets it back ("Void": an authorization released, issue 15).
    instrument: str = ""

    @property
    def needs_two(self) -> bool:
        return self.refund.approvals_required > 1

    @property
    def approvals_given(self) -> int:
        return len(self.approvals)


# How the console says each approval refusal to the person at the card, before they try.
APPROVAL_BLOCKERS: dict[ApprovalRefusal, str] = {
    ApprovalRefusal.MAKER: "You requested this refund, so someone else must approve it (maker-checker).",
    ApprovalRefusal.ADMINISTERS_ACCESS: ADMINISTERS_ACCESS_MESSAGE,
    ApprovalRefusal.ROLE: "Your role cannot approve refunds.",
    ApprovalRefusal.NOT_SENIOR: "This goodwill refund needs two senior agents; ask a senior to approve it.",
    ApprovalRefusal.ALREADY_APPROVED: (
        "You gave an approval already; a different senior agent must give the second one."
    ),
}


def refund_card(*, refund: Refund, user) -> RefundCard:
    currency = refund.currency
    payment = refund.payment
    decisions = list(refund.decisions.all())
    approvals = [d for d in decisions if d.kind == DecisionKind.APPROVE]
    is_open = refund.state == RefundState.REQUESTED
    refusal = approval_refusal(refund, user, approver_ids={d.actor_id for d in approvals})
    blocker = APPROVAL_BLOCKERS[refusal] if refusal is not None else ""
    held = refund.amount_minor if refund.state in ACTIVE_STATES else 0
    available = payment.remaining_refundable_minor + held
    reviewed = refund.policy_outcome == PolicyOutcome.REVIEW
    edits = [d for d in decisions if d.kind == DecisionKind.EDIT]
    threshold = high_value_threshold_minor(refund.policy_version, currency)
    denials = [d for d in decisions if d.kind == DecisionKind.DENY]
    language = refund_language(refund)
    declines = reply_declines(refund)
    decline_draft = policy_decline_draft(refund, language=language)
    refund_lines = [
        CardLine(
            description=line.order_line.description,
            sku=line.order_line.sku,
            quantity=line.quantity,
            tax=money(line.tax_minor, currency),
            total=money(line.amount_minor, currency),
        )
        for line in _refund_lines(refund)
    ]
    return RefundCard(
        refund=refund,
        amount=money(refund.amount_minor, currency),
        captured=money(payment.amount_minor, currency),
        remaining=money(payment.remaining_refundable_minor, currency),
        available=money(available, currency),
        lines=[
            CardLine(
                description=line.description,
                sku=line.sku,
                quantity=line.quantity,
                tax=money(line.tax_minor, currency),
                total=money(line.gross_minor, currency),
                refunded=line.refunded_quantity,
            )
            for line in refund.order.lines.all()
        ],
        refund_lines=refund_lines,
        proration_text=(refund.proration or {}).get("text", ""),
        amount_fixed=(
            "by line: the amount is what its units are worth"
            if refund_lines
            else "for time not used: the amount is the policy's arithmetic"
            if refund.proration
            else ""
        ),
        approvals=approvals,
        edits=edits,
        evidence_refs=evidence_refs(refund),
        is_open=is_open,
        can_decide=decide_refusal(user) is None,
        can_approve=is_open and refusal is None,
        can_edit=edit_refusal(refund, user, approvals_given=len(approvals)) is None,
        approve_blocker=blocker if is_open else "",
        approve_is_override=reviewed and refund.recommendation == Recommendation.DECLINE,
        decline_is_override=reviewed and refund.recommendation == Recommendation.APPROVE,
        reply_declines=declines,
        original_reply=policy_reply(refund),
        high_value_threshold="" if threshold is None else money(threshold, currency),
        high_value=is_high_value(refund.policy_version, currency, refund.amount_minor),
        reply_preview=reply_render(refund.draft_reply, refund=refund, language=language),
        language=language,
        decline_draft=decline_draft,
        decline_message=reply_render(refund.decline_reason, refund=refund, language=language),
        decline_rationale=denials[-1].rationale if denials else "",
        placeholders=placeholders_allowed_text(),
        instrument=RefundInstrument(refund.instrument_or_default).label,
    )


def _refund_lines(refund: Refund):
    # Prefetched by `console_refund`; a refund loaded elsewhere asks once, with the order lines joined.
    cached = getattr(refund, "_prefetched_objects_cache", {}).get("lines")
    return cached if cached is not None else refund.lines.select_related("order_line")


def console_orders(*, order_id: str, merchant: str = "") -> list[Order]:
    """Orders with this id — of one merchant (its slug) when given, else of every merchant.

    Order ids are unique per merchant only, so staff, who see every merchant,
    may find several: the create form then asks which merchant's order is meant.
    """
    orders = (
        Order.objects.select_related("customer", "payment", "merchant")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("line_no")))
        .filter(order_id=order_id.strip())
    )
    if merchant:
        orders = orders.filter(merchant__slug=merchant)
    return list(orders.order_by("merchant__slug")[:50])
