"""What the console's templates show, computed here so templates stay free of logic and queries.

Each presenter returns what a template renders (amounts already formatted in
the refund's currency), with the joins done. State never changes here; who may
do what is asked of `refunds.permissions`.
"""
