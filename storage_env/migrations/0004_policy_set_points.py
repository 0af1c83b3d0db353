from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("storage_env", "0003_notification_channels"),
    ]

    operations = [
        migrations.AddField(
            model_name="climatepolicy",
            name="temp_set",
            field=models.FloatField(
                blank=True, null=True, verbose_name="temperature set point (°C)"
            ),
        ),
        migrations.AddField(
            model_name="climatepolicy",
            name="rh_set",
            field=models.FloatField(blank=True, null=True, verbose_name="humidity set point (%RH)"),
        ),
    ]
