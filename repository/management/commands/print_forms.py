"""``print_forms FORM --fonds J012 --category WS [--year 2019] -o out.pdf``: print a form for
a whole category (or ``--codes``) with a progress bar (repository/printing.py).

Forms: stamps (归档章/档号章), item_list (归档文件目录), volume_list (案卷目录), full_index
(全引目录), volume_spine (卷脊), box_spine (盒脊), and for one volume (``--codes`` naming it)
volume_contents (卷内目录), volume_note (卷内备考表), volume_cover (案卷封面); box_note
(备考表) for boxes named by ``--codes``.

manage.py print_forms item_list --fonds J012 --category WS --year 2019 -o list.pdf
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from repository import printing
from repository.models import Box, Item, Volume

FORMS = (
    "stamps",
    "item_list",
    "volume_list",
    "full_index",
    "volume_spine",
    "box_spine",
    "volume_contents",
    "volume_note",
    "volume_cover",
    "box_note",
)


class Command(BaseCommand):
    help = "Print a catalogue form (PDF) for a category or for named codes, with progress."

    def add_arguments(self, parser):
        parser.add_argument("form", choices=FORMS)
        parser.add_argument("--fonds", help="fonds number, e.g. J012")
        parser.add_argument("--category", help="category code, e.g. WS")
        parser.add_argument("--year", type=int)
        parser.add_argument("--codes", nargs="*", default=[], help="reference or box codes")
        parser.add_argument("--width", type=int, default=30, help="spine width in mm")
        parser.add_argument("-o", "--output", required=True)

    def _records(self, model, fonds, category, year, codes):
        qs = model.objects.select_related("fonds", "category")
        if codes:
            qs = qs.filter(reference_code__in=codes)
        else:
            if not (fonds and category):
                raise CommandError("Give --fonds and --category, or --codes.")
            qs = qs.filter(fonds__code=fonds, category__code=category)
            if year:
                qs = qs.filter(filing_year=year)
        return list(qs.order_by("reference_code"))

    def handle(self, *args, form, fonds, category, year, codes, width, output, **options):
        bar = tqdm(total=0, unit="entry", file=self.stderr, disable=None)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        heading = " ".join(str(v) for v in (fonds, category, year) if v)
        if form in ("stamps", "item_list"):
            items = self._records(Item, fonds, category, year, codes)
            call = printing.stamp_labels if form == "stamps" else printing.item_list
            kwargs = {"heading": heading} if form == "item_list" else {}
            data = call(items, progress=progress, **kwargs)
        elif form in ("volume_list", "volume_spine"):
            volumes = self._records(Volume, fonds, category, year, codes)
            if form == "volume_list":
                data = printing.volume_list(volumes, heading=heading, progress=progress)
            else:
                data = printing.volume_spine(volumes, width_mm=width, progress=progress)
        elif form == "full_index":
            volumes = self._records(Volume, fonds, category, year, codes)
            data = printing.full_index(
                volumes,
                lambda v: v.items.order_by("sequence", "reference_code"),
                heading=heading,
                progress=progress,
            )
        elif form in ("box_spine", "box_note"):
            boxes = Box.objects.select_related("fonds").order_by("code")
            boxes = boxes.filter(code__in=codes) if codes else boxes.filter(fonds__code=fonds)
            boxes = list(boxes)
            if form == "box_spine":
                data = printing.box_spine(boxes, progress=progress)
            else:
                if len(boxes) != 1:
                    raise CommandError("box_note prints one box: name it with --codes.")
                data = printing.box_note(boxes[0])
        else:
            volumes = self._records(Volume, None, None, None, codes)
            if len(volumes) != 1:
                raise CommandError(f"{form} prints one volume: name it with --codes.")
            volume = volumes[0]
            items = volume.items.order_by("sequence", "reference_code")
            if form == "volume_contents":
                data = printing.volume_contents(volume, items)
            elif form == "volume_note":
                data = printing.volume_note(volume)
            else:
                data = printing.volume_cover(volume, item_count=items.count())
        bar.close()
        Path(output).write_bytes(data)
        self.stdout.write(f"{output}: {len(data)} bytes")
