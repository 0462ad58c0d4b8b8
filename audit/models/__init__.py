from audit.models.event import AuditChainHead, AuditEvent

__all__ = ["AuditChainHead", "AuditEvent"]
