from credits.models.redemption import StoreCreditRedemption
from credits.models.store_credit import StoreCredit

__all__ = ["StoreCredit", "StoreCreditRedemption"]
