"""Documents built per second, without the database: what a rebuild spends in Python per record.
The ``elasticsearch`` path is ``search.documents.analysed``; the ``postgres`` path is
``analysed`` plus ``pg_lexemes`` (what the PostgreSQL backend did per row before issue 16; it
now skips ``analysed``), kept so that figures compare with older code (docs/reindex-speed.md).

    BENCH_DOCS=20000 .venv/bin/python bench/document_build.py

Two corpora of ``BENCH_DOCS`` documents each: demo-like records (``repository.demo``: titles and
creators repeat a lot) and unique ones (every title, creator and keyword drawn afresh from
common characters, so no cache can help). CPU seconds of this process are measured
(``time.process_time``), so other work on the machine weighs less on the figure; the wall-clock
rate is printed beside it. Each corpus is timed in a fresh child process (cold caches).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, report  # noqa: E402

DOCS = int(os.environ.get("BENCH_DOCS", "20000"))
COMMON = (  # the most frequent characters of Chinese text
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
    "同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自"
    "二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日"
    "那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变"
    "条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
    "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指"
    "几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器"
    "压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安"
    "场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集"
    "温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连"
    "断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精"
    "值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属"
    "圆包火住调满县局照参红细引听该铁价严龙飞"
)


def demo_like(count: int) -> list[dict]:
    from repository.demo import FONDS, _draft

    rng = random.Random(16)
    today = dt.date(2026, 12, 7)
    docs = []
    for n in range(count):
        draft = _draft(rng, today)
        fonds = FONDS[draft.fonds_index]
        title = draft.title if n % 5 else f"{draft.title}（第{n % 4 + 1}件）"
        docs.append(
            document(
                title,
                draft.creator,
                f"{fonds.code}-{draft.category}·{draft.year}-{draft.retention}-{n:05d}",
            )
        )
    return docs


def unique(count: int) -> list[dict]:
    rng = random.Random(16)

    def words(low: int, high: int) -> str:
        return "".join(rng.choice(COMMON) for _ in range(rng.randint(low, high)))

    return [
        document(
            f"关于{rng.randint(1950, 2025)}年{words(6, 14)}的{words(2, 4)}",
            words(3, 8),
            f"J{n % 97:03d}-WS·{rng.randint(1950, 2025)}-Y-{n:06d}",
            keywords=f"{words(2, 4)} {words(2, 4)}",
        )
        for n in range(count)
    ]


def document(title: str, creator: str, code: str, *, keywords: str = "") -> dict:
    return {
        "reference_code": code,
        "title": title,
        "creator": creator,
        "keywords": keywords,
        "notes": "",
        "page_text": "",
    }


CORPORA = {"demo_like": demo_like, "unique": unique}

CHILD = """
import sys, time, django
django.setup()
sys.path.insert(0, "bench")
import document_build as bench
from search.tokens import analysed, pg_lexemes
docs = bench.CORPORA[sys.argv[1]](int(sys.argv[2]))
cpu, wall = time.process_time(), time.perf_counter()
for doc in docs:
    if sys.argv[3] == "postgres":
        analysed(doc)
        pg_lexemes(doc)
    else:
        analysed(doc)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print("RATE", len(docs) / cpu, len(docs) / wall)
from search import analysis
for line in getattr(analysis, "cache_report", lambda: [])():
    print("CACHE", line)
"""


def main() -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="true")
    for corpus in CORPORA:
        for path in ("postgres", "elasticsearch"):
            done = subprocess.run(
                [PYTHON, "-c", CHILD, corpus, str(DOCS), path],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            lines = done.stdout.splitlines()
            cpu_rate, wall_rate = next(x for x in lines if x.startswith("RATE")).split()[1:]
            report(f"document_build_{corpus}_{path}_cpu", float(cpu_rate), "docs/s")
            report(f"document_build_{corpus}_{path}_wall", float(wall_rate), "docs/s")
            for line in lines:
                if line.startswith("CACHE"):
                    print(f"# {corpus} {path}: {line[6:]}", file=sys.stderr)


if __name__ == "__main__":
    main()
