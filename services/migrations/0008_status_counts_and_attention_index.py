"""The status counts kept by the database, and the dashboard's "needing attention" index.

``StatusCountChange`` and its triggers: ``services.stats``. The triggers are created, and
every service counted once, by ``install_triggers`` (PostgreSQL and SQLite); another
database keeps an empty table and the counts read 0.
"""

from django.db import migrations, models

TRIGGERS = (
    "services_status_count_insert",
    "services_status_count_update",
    "services_status_count_delete",
    "services_status_count_truncate",
)


def install(apps, schema_editor):
    from services import stats

    stats.install_triggers(schema_editor.connection)


def uninstall(apps, schema_editor):
    connection = schema_editor.connection
    for name in TRIGGERS:
        if connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON services_service")
        elif connection.vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    if connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS services_status_count_change()")


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0007_hold_until'),
    ]

    operations = [
        migrations.CreateModel(
            name='StatusCountChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('active', 'Active'), ('suspended', 'Suspended'), ('expired', 'Expired'), ('cancelled', 'Cancelled'), ('terminated', 'Terminated')], max_length=16)),
                ('delta', models.BigIntegerField()),
            ],
        ),
        migrations.AddIndex(
            model_name='service',
            index=models.Index(condition=models.Q(models.Q(('operation', ''), _negated=True), models.Q(('status', 'pending'), models.Q(('last_delivery_error', ''), _negated=True)), _connector='OR'), fields=['updated_at', 'id'], name='service_attention_idx'),
        ),
        migrations.RunPython(install, uninstall),
    ]
