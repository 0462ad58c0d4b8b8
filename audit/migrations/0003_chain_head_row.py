"""The chain head must exist before the first append.

Writers lock it with SELECT … FOR UPDATE; if it were created lazily, the
first concurrent writers would find nothing to lock and race on its insert.
"""

from django.db import migrations


def create_head(apps, schema_editor):
    apps.get_model("audit", "AuditChainHead").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
