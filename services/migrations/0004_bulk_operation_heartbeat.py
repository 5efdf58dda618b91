"""The heartbeat that tells a running bulk operation from a stalled one.

Operations already running when this is applied get their start time as their last heartbeat:
one stranded by a lost worker before this release is then resumed by the first stall check.
"""

from django.db import migrations, models
from django.db.models import F


def start_as_heartbeat(apps, schema_editor):
    BulkOperation = apps.get_model("services", "BulkOperation")
    BulkOperation.objects.filter(status="running", heartbeat_at__isnull=True).update(
        heartbeat_at=F("started_at")
    )


class Migration(migrations.Migration):
    dependencies = [("services", "0003_service_name_trigram_index")]

    operations = [
        migrations.AddField(
            model_name="bulkoperation",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Last sign of progress from the task running it; a stale one means stalled.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="bulkoperation",
            name="resumes",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Automatic resumes since it was queued or staff last resumed it.",
            ),
        ),
        migrations.AddField(
            model_name="bulkoperation",
            name="abandoned",
            field=models.BooleanField(
                default=False,
                help_text="The automatic resumes gave up on it; staff can resume it.",
            ),
        ),
        migrations.RunPython(start_as_heartbeat, migrations.RunPython.noop),
    ]
