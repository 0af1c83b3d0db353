from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("repository", "0003_box_capacity_room"),
    ]

    operations = [
        migrations.AlterField(
            model_name="storeroom",
            name="template",
            field=models.CharField(
                choices=[
                    ("paper", "Paper records store"),
                    ("special", "Special collections store"),
                    ("tape", "Audio/video tape store"),
                    ("film_copy", "Film store (copies)"),
                    ("film_master", "Film store (masters)"),
                    ("photo", "Photograph store"),
                    ("negative", "Negative store"),
                    ("microfilm", "Microfilm store"),
                    ("magnetic", "Magnetic media store"),
                    ("optical", "Optical disc store"),
                ],
                default="paper",
                max_length=16,
                verbose_name="room template",
            ),
        ),
    ]
