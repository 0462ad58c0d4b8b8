"""The agent console (SPEC §1): server-rendered pages, enhanced with htmx, one module per area.

Views translate between forms and services and never change state
themselves; every view checks the user's permission on the server, and the
services check again (maker-checker, dual control) under their row locks.
"""
