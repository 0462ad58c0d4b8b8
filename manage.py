#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    from core.telemetry import SERVICE_MANAGE, SERVICE_WEB, configure_tracing

    # Before Django loads anything: runserver's handler must get the instrumentation's middleware.
    configure_tracing(SERVICE_WEB if sys.argv[1:2] == ["runserver"] else SERVICE_MANAGE)

    execute_from_command_line(sys.argv)
