from audit.models.chain import AuditChainHead, AuditPending, AuditSeal
from audit.models.event import AuditEvent

__all__ = ["AuditChainHead", "AuditEvent", "AuditPending", "AuditSeal"]
