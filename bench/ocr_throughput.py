"""OCR throughput on this machine's cores, and the web latency it costs (issue 16, item 6).

    .venv/bin/python bench/ocr_throughput.py                   # 60 A4 pages at 300 dpi
    BENCH_OCR_PAGES=6 BENCH_OCR_BASELINE_SECONDS=15 .venv/bin/python bench/ocr_throughput.py

The catalogue: the PostgreSQL database ``BENCH_OCR_DATABASE_URL`` (default ``lantai_bench_ocr``
on 127.0.0.1:5432) holding ``seed_demo --records BENCH_OCR_RECORDS`` (2,000), dropped and made
again unless ``BENCH_OCR_KEEP_DB=1`` (then the pages of an earlier run are deleted first).

The pages: ``BENCH_OCR_PAGES`` (60) scans of Chinese official documents, drawn with Pillow and
``fonts-wqy-zenhei`` in the standard layout (GB/T 9704: a 22-pt title, a document number, 16-pt
body text of 28 characters a line, signature and date: about 20 lines), A4 at
``BENCH_OCR_DPI`` (300: 2480 × 3508 px), greyscale JPEG, with paper tone, noise, a slight blur
and a skew under a degree. Two pages to a record, on open records, each added through
``repository.images.add_digital_page`` as an upload is (so each is queued for reading). Each
page names a place and a project no other page names (the phrase the search check looks for).

Drawing and adding the pages is timed too (``ocr_pages_added_seconds``: the upload service
checks each scan and makes its web image and thumbnail).

The processes, as production runs them with ``DEBUG`` off: Uvicorn with ``BENCH_OCR_WEB_WORKERS``
(2) workers (the load bench's command; no nginx in front) and ``search_sync``; then ``ocr_pages``
exactly as ``make run`` starts it (its command from scripts/run.py: it lowers its own CPU
priority, by 10 unless told otherwise).

1. Baseline: a fixed mix of public pages (searches, catalogue lists, record pages, some with
   scans) requested at ``BENCH_OCR_RATE`` (5) per second, open loop, for
   ``BENCH_OCR_BASELINE_SECONDS`` (60) with no OCR worker running: p50/p95.
2. During OCR: ``ocr_pages`` starts and the same mix runs at the same rate until every page is
   read (at most ``BENCH_OCR_TIMEOUT`` seconds, 1,800): pages per minute (wall time from the
   first page taken to the last page read), mean Tesseract confidence, pages failed, how much of
   each page's text was read (difflib's match against the drawn text, NFKC, white space
   ignored), the web p50/p95 during OCR and what OCR costs the p95 and p50; the nice levels of
   the web server and of the worker, and the worker's peak memory (its own, and with Tesseract).
3. Check: when ``search_sync`` has indexed the pages, the public search (the search service, as
   an anonymous visitor) for the phrase of the first page finds its record, naming that page.
   The bench fails when it does not.

Run it with nothing else busy, and not under ``nice``: the figures are about the priority the
worker gives itself beside the web server. Skipped (exit 0, reason printed) without Tesseract
with ``chi_sim``, without the font, or without PostgreSQL. The database ``lantai_search_bench``
is refused.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib.util
import io
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from _harness import (
    PYTHON,
    ROOT,
    SERVERS,
    free_port,
    production_env,
    report,
    seeded_database,
    wait_http,
)

sys.path.insert(0, str(ROOT))

PAGES = int(os.environ.get("BENCH_OCR_PAGES", "60"))
RECORDS = int(os.environ.get("BENCH_OCR_RECORDS", "2000"))
DPI = int(os.environ.get("BENCH_OCR_DPI", "300"))
RATE = float(os.environ.get("BENCH_OCR_RATE", "5"))
BASELINE_SECONDS = float(os.environ.get("BENCH_OCR_BASELINE_SECONDS", "60"))
TIMEOUT = float(os.environ.get("BENCH_OCR_TIMEOUT", "1800"))
WEB_WORKERS = os.environ.get("BENCH_OCR_WEB_WORKERS", "2")
DATABASE_URL = os.environ.get(
    "BENCH_OCR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lantai_bench_ocr"
)
FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
A4_PIXELS = (round(210 / 25.4 * DPI), round(297 / 25.4 * DPI))
PAGES_PER_RECORD = 2
FORBIDDEN_DATABASES = {"lantai_search_bench"}  # the lead's timed 10 M catalogue

# --- the scans --------------------------------------------------------------------------------
PLACES = [
    "青石镇", "红旗乡", "白沙村", "柳河乡", "东山镇", "马家坪", "杨柳湾", "石桥镇", "黄土岭",
    "新华街道", "桃源乡", "北关村", "龙潭镇", "双河口", "铁炉乡", "梅花村", "清水塘", "高家庄",
]  # fmt: skip
PROJECTS = [
    "水库除险加固工程", "小学校舍维修项目", "农村公路硬化工程", "饮水安全巩固工程",
    "供销合作社改制", "敬老院扩建工程", "河道清淤整治", "林业站房屋划拨", "粮站仓库移交",
    "卫生院门诊楼建设",
]  # fmt: skip
TITLES = ["关于{}有关问题的通知", "关于{}的批复", "{}专题会议纪要", "关于{}情况的报告"]
SALUTATIONS = ["各村（居）委会、镇直各单位：", "县人民政府：", "各乡镇人民政府，县直各部门："]
CLAUSES = [
    "根据上级有关文件精神，结合本地区实际情况", "现将有关事项通知如下",
    "各单位要高度重视，切实加强组织领导", "认真做好档案的收集、整理、鉴定和保管工作",
    "确保档案完整、准确、系统、安全", "严格执行档案借阅登记制度",
    "库房温湿度应每日巡查并做好记录", "发现问题及时报告，不得拖延",
    "对涉密档案实行专人专柜管理", "会议听取了各部门负责同志的工作汇报",
    "会议认为，上半年各项工作进展顺利", "同时也要清醒地看到存在的困难和不足",
    "会议研究决定以下事项", "请各乡镇于本月底前将落实情况书面报送县政府办公室",
    "所需经费由县财政统筹安排", "进一步规范工程建设项目的招标投标管理",
    "加强防汛物资储备和抢险队伍建设", "全面排查水库、堤防和山塘的安全隐患",
    "切实做好人员转移安置的各项准备", "认真落实安全生产责任制", "深入开展安全生产大检查",
    "加快推进农村基础设施建设", "积极争取上级项目和资金支持", "做好困难群众的生活救助工作",
    "按照干部管理权限，经研究决定", "本合同自双方签字盖章之日起生效",
    "甲乙双方应当严格履行合同约定的义务", "如有未尽事宜，由双方协商解决",
    "经审计，该单位财务收支基本真实、合法", "但在专项资金管理方面存在一些问题",
    "责令限期整改并将整改结果上报", "全年共接待查档利用者一千二百余人次",
    "提供档案资料三千余卷次", "为编史修志和经济建设提供了有力服务",
]  # fmt: skip
NUMERALS = "〇一二三四五六七八九"


def chinese_year(year: int) -> str:
    return "".join(NUMERALS[int(d)] for d in str(year))


def chinese_number(n: int) -> str:
    tens, ones = divmod(n, 10)
    return (
        ("" if tens < 2 else NUMERALS[tens])
        + ("十" if tens else "")
        + (NUMERALS[ones] if ones or not tens else "")
    )


def wrap(text: str, width: int) -> list[str]:
    """Lines of ``width`` characters; a punctuation mark never starts a line (it hangs at the
    end of the one before, as Chinese typesetting does)."""
    lines: list[str] = []
    for char in text:
        if lines and (len(lines[-1]) < width or char in "，；。、："):
            lines[-1] += char
        else:
            lines.append(char)
    return lines


def scan(rng: random.Random, place: str, project: str) -> tuple[bytes, str]:
    """One scanned page of an official document about ``project`` at ``place``: (JPEG bytes,
    the text drawn, line by line)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    width, height = A4_PIXELS
    margin = round(DPI * 1.0)
    body = ImageFont.truetype(FONT, round(DPI * 16 / 72))
    big = ImageFont.truetype(FONT, round(DPI * 22 / 72))
    step = round(body.size * 1.55)
    per_line = int((width - 2 * margin) // body.size)
    year = rng.randint(1978, 2012)
    prose = f"　　为做好{place}{project}，"
    for clause in rng.sample(CLAUSES, len(CLAUSES)):
        if len(prose) > per_line * 13:
            break
        prose += clause + rng.choice("，；。")
    prose = prose[:-1] + "。"
    date = f"{chinese_year(year)}年{chinese_number(rng.randint(1, 12))}月"
    date += f"{chinese_number(rng.randint(1, 28))}日"
    # (text, font, alignment, space before it in lines)
    lines = [
        (rng.choice(TITLES).format(place + project), big, "centre", 0.0),
        (f"{place[:2]}政发〔{year}〕{rng.randint(1, 99)}号", body, "centre", 1.0),
        (rng.choice(SALUTATIONS), body, "left", 1.0),
        *((line, body, "left", 1.0) for line in wrap(prose, per_line)),
        (f"{place}人民政府办公室", body, "right", 2.0),
        (date, body, "right", 1.0),
    ]
    paper = rng.randint(236, 250)
    image = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(image)
    y = margin - step
    for text, font, align, before in lines:
        y += round(step * before)
        size = draw.textlength(text, font=font)
        x = {"left": margin, "centre": (width - size) / 2, "right": width - margin - size}[align]
        draw.text((x, y), text, font=font, fill=rng.randint(10, 45))
        if font is big:
            y += round(font.size)
    for _ in range(rng.randint(20, 80)):  # dust
        cx, cy, r = rng.randrange(width), rng.randrange(height), rng.uniform(1, DPI / 100)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rng.randint(60, 160))
    image = Image.blend(image, Image.effect_noise((width, height), 20), 0.1)
    image = image.rotate(rng.uniform(-0.8, 0.8), resample=Image.Resampling.BICUBIC, fillcolor=paper)
    image = image.filter(ImageFilter.GaussianBlur(DPI / 500))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, dpi=(DPI, DPI))
    return out.getvalue(), "\n".join(line[0] for line in lines)


def text_match(truth: str, read: str) -> float:
    """How much of the drawn text was read: difflib's ratio, NFKC, white space ignored."""
    a, b = ("".join(unicodedata.normalize("NFKC", t).split()) for t in (truth, read))
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


# --- what is needed -------------------------------------------------------------------------
def missing() -> str | None:
    """Why the bench cannot run here, or None."""
    base, name = DATABASE_URL.rsplit("/", 1)
    if name in FORBIDDEN_DATABASES:
        raise SystemExit(f"ocr_throughput: {name} is not a database for this bench")
    command = shutil.which("tesseract")
    if command is None:
        return "tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-chi-sim)"
    done = subprocess.run([command, "--list-langs"], capture_output=True, text=True, check=False)
    if "chi_sim" not in (done.stdout + done.stderr).split():
        return "tesseract lacks chi_sim (apt-get install tesseract-ocr-chi-sim)"
    if not Path(FONT).is_file():
        return f"no {FONT} to draw the scans (apt-get install fonts-wqy-zenhei)"
    import psycopg

    try:
        psycopg.connect(base + "/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL is not reachable at {base} ({' '.join(str(exc).split())[:200]})"
    return None


def production_command(command: str) -> list[str]:
    """The worker's command line as ``make run`` starts it (scripts/run.py's WORKERS)."""
    spec = importlib.util.spec_from_file_location("lantai_run", ROOT / "scripts" / "run.py")
    assert spec and spec.loader
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    for _name, name, extra, _condition in run.WORKERS:
        if name == command:
            return [PYTHON, "manage.py", command, *extra]
    raise SystemExit(f"scripts/run.py does not start {command}")


# --- the catalogue and its pages (in this process, through the services) ----------------------
def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


@dataclass
class Page:
    phrase: str  # a place and a project no other page names (up to 180 pages)
    record_pk: int
    number: int
    withheld: bool
    text: str  # what was drawn

    @property
    def path(self) -> str:
        return f"/catalogue/item/{self.record_pk}/"


def add_pages() -> dict[int, Page]:
    """Scans on open records through the upload service, by page id."""
    from accounts.models import User
    from repository.images import add_digital_page, delete_digital_page
    from repository.models import DigitalPage, Item

    archivist = User.objects.get(username="archivist")
    for old in DigitalPage.objects.all():  # a kept database: the pages of an earlier run
        delete_digital_page(old, acting_user=archivist)
    rng = random.Random(16)
    open_items = list(Item.objects.public().order_by("pk").values_list("pk", flat=True))
    records = rng.sample(open_items, math.ceil(PAGES / PAGES_PER_RECORD))
    subjects = [(place, project) for place in PLACES for project in PROJECTS]
    rng.shuffle(subjects)
    added: dict[int, Page] = {}
    for n in range(PAGES):
        item = Item.objects.get(pk=records[n // PAGES_PER_RECORD])
        place, project = subjects[n % len(subjects)]
        data, text = scan(rng, place, project)
        page = add_digital_page(item, data, acting_user=archivist)
        added[page.pk] = Page(place + project, item.pk, page.page_number, page.withheld, text)
    return added


def request_mix(pages: dict[int, Page]) -> list[tuple[str, str]]:
    """A fixed list of (kind, path): public searches, catalogue lists, record pages."""
    from urllib.parse import quote

    from repository.models import Category, Fonds, Item

    rng = random.Random(6)
    words = ["档案", "会议纪要", "合同", "2019 工作 总结", "人事 任免", "财务 预算", "通知"]
    words += ["批复", "防汛", "城市 规划 1998", "hyjy", "安全生产"]
    searches = [f"/search/?q={quote(w)}" for w in words]
    fonds = Fonds.objects.order_by("code").values_list("code", flat=True)
    lists = ["/catalogue/"] + [f"/catalogue/fonds/{code}/" for code in fonds]
    categories = list(Category.objects.order_by("pk").values_list("fonds__code", "code"))
    lists += [
        f"/catalogue/fonds/{f}/{c}/" for f, c in rng.sample(categories, min(12, len(categories)))
    ]
    lists += [f"/catalogue/fonds/{f}/{c}/?page=2" for f, c in categories[:4]]
    scanned = sorted({page.path for page in pages.values()})
    open_items = list(Item.objects.public().order_by("pk").values_list("pk", flat=True))
    others = [f"/catalogue/item/{pk}/" for pk in rng.sample(open_items, min(40, len(open_items)))]
    records = (scanned[:20] + [p for p in others if p not in scanned])[:40]
    mix = [("search", p) for p in searches * 3] + [("list", p) for p in lists]
    mix += [("record", p) for p in records]
    rng.shuffle(mix)
    return mix


# --- the paced load --------------------------------------------------------------------------
async def paced(
    base: str,
    mix: list[tuple[str, str]],
    *,
    seconds: float | None = None,
    until: threading.Event | None = None,
) -> list[tuple[str, float, int]]:
    """Requests of ``mix`` in turn at RATE per second, each started on time whatever the others
    do (open loop), for ``seconds`` or until ``until`` is set: (kind, ms, status) each."""
    results: list[tuple[str, float, int]] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=20)
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=limits, headers={"Accept-Language": "zh-hans"}
    ) as client:

        async def one(kind: str, path: str) -> None:
            started = time.perf_counter()
            try:
                status = (await client.get(path)).status_code
            except httpx.HTTPError:
                status = 0
            results.append((kind, (time.perf_counter() - started) * 1000, status))

        tasks = []
        begin = time.perf_counter()
        i = 0
        while not (seconds is not None and i >= seconds * RATE) and not (until and until.is_set()):
            delay = begin + i / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            kind, path = mix[i % len(mix)]
            tasks.append(asyncio.create_task(one(kind, path)))
            i += 1
        await asyncio.gather(*tasks)
    return results


def summarise(name: str, results: list[tuple[str, float, int]]) -> tuple[float, float]:
    ok = [ms for _, ms, status in results if status == 200]
    if len(ok) < 2:
        raise SystemExit(f"ocr_throughput: {len(ok)} of {len(results)} requests answered 200")
    q = statistics.quantiles(ok, n=100)
    report(f"{name}_requests", len(results), "requests")
    report(f"{name}_errors", len(results) - len(ok), "requests")
    report(f"{name}_p50", q[49], "ms")
    report(f"{name}_p95", q[94], "ms")
    for kind in ("search", "list", "record"):
        values = [ms for k, ms, status in results if k == kind and status == 200]
        if len(values) >= 20:
            report(f"{name}_{kind}_p95", statistics.quantiles(values, n=100)[94], "ms")
    return q[49], q[94]


# --- watching the worker ----------------------------------------------------------------------
class Watch(threading.Thread):
    """Every second: are the pages all read (then ``done`` is set), the worker's nice level and
    the memory of the worker with its Tesseract."""

    def __init__(self, worker: subprocess.Popen, page_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.page_ids = page_ids
        self.done = threading.Event()
        self.stop = threading.Event()
        self.nice: int | None = None
        self.peak_tree_mib = 0.0
        self.peak_own_mib = 0.0
        self.why = ""

    def run(self) -> None:
        from django.db import connections

        from search.models import PageText

        waiting = PageText.objects.filter(page_id__in=self.page_ids).exclude(
            status__in=[PageText.Status.DONE, PageText.Status.FAILED]
        )
        deadline = time.monotonic() + TIMEOUT
        try:
            while not self.stop.is_set():
                self.sample()
                if not waiting.exists():
                    break
                if self.worker.poll() is not None:
                    self.why = f"ocr_pages exited with {self.worker.returncode}"
                    break
                if time.monotonic() > deadline:
                    self.why = f"pages still unread after {TIMEOUT:.0f} s"
                    break
                time.sleep(1)
        finally:
            connections.close_all()
            self.done.set()

    def sample(self) -> None:
        try:
            main = psutil.Process(self.worker.pid)
            tree = [main, *main.children(recursive=True)]
            self.nice = main.nice()
            self.peak_tree_mib = max(
                self.peak_tree_mib, sum(p.memory_info().rss for p in tree) / 2**20
            )
            self.peak_own_mib = max(self.peak_own_mib, own_peak_mib(self.worker.pid))
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            pass


def own_peak_mib(pid: int) -> float:
    """The process's own peak resident memory (VmHWM), its children apart."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_indexed(seconds: float = 300) -> None:
    """Until ``search_sync`` has emptied the search outbox."""
    from search.models import OutboxEntry

    deadline = time.monotonic() + seconds
    while OutboxEntry.objects.exists():
        if time.monotonic() > deadline:
            left = OutboxEntry.objects.values_list("last_error", flat=True).first()
            raise SystemExit(f"ocr_throughput: search outbox not drained ({left or 'slow'})")
        time.sleep(0.5)


# --- the run ----------------------------------------------------------------------------------
def stop_all(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    why = missing()
    if why:
        print(f"ocr_throughput: {why}; skipped", flush=True)
        return 0
    var = Path(tempfile.mkdtemp(prefix="lantai-ocr-bench-"))
    (var / "prom").mkdir()
    env = production_env(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=os.environ.get("BENCH_OCR_REDIS_URL", ""),
        ELASTICSEARCH_URL="",  # the database search backend, whatever the shell says
        LANTAI_VAR_DIR=str(var),
        MEDIA_ROOT=str(var / "media"),
        STATIC_ROOT=str(var / "static"),
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        PROMETHEUS_MULTIPROC_DIR=str(var / "prom"),
        LOG_LEVEL="ERROR",
    )
    keep = os.environ.get("BENCH_OCR_KEEP_DB") == "1"
    print(f"# preparing {DATABASE_URL} ({RECORDS} records) and static files", file=sys.stderr)
    if not seeded_database(DATABASE_URL, env, RECORDS, keep=keep):
        print("# the database was kept as it was (BENCH_OCR_KEEP_DB=1)", file=sys.stderr)
    collect = [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)
    setup_django(env)
    size = f"{A4_PIXELS[0]}×{A4_PIXELS[1]} px"
    print(f"# drawing and adding {PAGES} pages ({size})", file=sys.stderr)
    started = time.monotonic()
    pages = add_pages()
    report("ocr_pages_added_seconds", time.monotonic() - started, "s")
    mix = request_mix(pages)
    worker_command = production_command("ocr_pages")

    logs = open(var / "processes.log", "w")  # noqa: SIM115 - closed at the end
    processes: dict[str, subprocess.Popen] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        for name, command in [
            ("web", [*SERVERS["uvicorn"](port), "--workers", WEB_WORKERS, "--no-server-header"]),
            ("search_sync", [PYTHON, "manage.py", "search_sync"]),
        ]:
            processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT
            )
        wait_http(base + "/livez")
        wait_indexed()  # the deletions of a kept database's pages, before the baseline
        for _, path in sorted(set(mix)):  # warm every page (twice: the web workers share them)
            for _ in range(2):
                httpx.get(base + path, timeout=60)
        web_nice = psutil.Process(processes["web"].pid).nice()

        print(f"# baseline: {RATE:g} requests/s for {BASELINE_SECONDS:g} s", file=sys.stderr)
        baseline = asyncio.run(paced(base, mix, seconds=BASELINE_SECONDS))

        print(f"# OCR: {' '.join(worker_command[1:])} while the same mix runs", file=sys.stderr)
        processes["ocr_pages"] = subprocess.Popen(
            worker_command, cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT
        )
        watch = Watch(processes["ocr_pages"], list(pages))
        watch.start()
        during = asyncio.run(paced(base, mix, until=watch.done))
        watch.stop.set()
        watch.join()
        if watch.why:
            raise SystemExit(f"ocr_throughput: {watch.why}; log: {var / 'processes.log'}")
        watch.sample()
        processes["ocr_pages"].terminate()
        processes["ocr_pages"].wait(timeout=60)
        wait_indexed()
        found, seen = search_check(pages)
        died = [n for n, p in processes.items() if n != "ocr_pages" and p.poll() is not None]
    finally:
        stop_all(processes)
        logs.close()

    report("ocr_cpus", os.cpu_count() or 0, "cpus")
    report("ocr_web_rate", RATE, "req/s")
    a50, a95 = summarise("ocr_web_baseline", baseline)
    b50, b95 = summarise("ocr_web_during", during)
    report("ocr_web_p50_cost", b50 - a50, "ms")
    report("ocr_web_p95_cost", b95 - a95, "ms")
    outcome = ocr_figures(pages)
    report("ocr_web_nice", web_nice, "nice")
    report("ocr_worker_nice", watch.nice if watch.nice is not None else float("nan"), "nice")
    report("ocr_worker_peak_rss", watch.peak_own_mib, "MiB")
    report("ocr_worker_tree_peak_rss", watch.peak_tree_mib, "MiB")
    report("ocr_search_check", 1 if found else 0, "found")
    if watch.nice is not None and watch.nice - web_nice < 10:
        gap = f"the worker ran at nice {watch.nice} beside the web server's {web_nice}"
        print(f"# {gap}: not production's gap (was the bench run under nice?)", file=sys.stderr)
    if os.environ.get("BENCH_OCR_KEEP") == "1":
        print(f"# kept {var}", file=sys.stderr)
    else:
        shutil.rmtree(var, ignore_errors=True)
    print(f"# search check: {seen}", file=sys.stderr)
    if died:
        print(f"ocr_throughput: {', '.join(died)} died during the run", file=sys.stderr)
        return 1
    if not found:
        print("ocr_throughput: the search check failed", file=sys.stderr)
        return 1
    return 0 if outcome else 1


def ocr_figures(pages: dict[int, Page]) -> bool:
    """Report pages per minute, confidence, failures and text match; False when none was read."""
    from django.db.models import Avg, Max, Min

    from search.models import PageText

    rows = PageText.objects.filter(page_id__in=list(pages))
    done = rows.filter(status=PageText.Status.DONE)
    span = rows.aggregate(first=Min("claimed_at"), last=Max("updated_at"))
    wall = (span["last"] - span["first"]).total_seconds()
    read = done.count()
    report("ocr_pages_read", read, "pages")
    report("ocr_pages_failed", rows.filter(status=PageText.Status.FAILED).count(), "pages")
    report("ocr_wall_seconds", wall, "s")
    report("ocr_pages_per_minute", read / wall * 60 if wall > 0 else 0, "pages/min")
    report("ocr_mean_confidence", done.aggregate(c=Avg("confidence"))["c"] or 0, "%")
    matches = [text_match(pages[pk].text, text) for pk, text in done.values_list("page_id", "text")]
    report("ocr_text_match", statistics.mean(matches) * 100 if matches else 0, "%")
    return read > 0


def search_check(pages: dict[int, Page]) -> tuple[bool, str]:
    """The public search (the service, as an anonymous visitor) for the phrase of the first
    released page finds its record and names that page: (found, what was seen)."""
    from django.contrib.auth.models import AnonymousUser

    from search.query import SearchRequest
    from search.services import search_records

    page = next(p for _, p in sorted(pages.items()) if not p.withheld)
    result = search_records(AnonymousUser(), SearchRequest(query=page.phrase))
    for rank, hit in enumerate(result.hits, start=1):
        if (hit.kind, hit.pk) == ("item", page.record_pk):
            named = hit.page.number if hit.page else None
            seen = (
                f"{page.phrase!r}: item {page.record_pk} at rank {rank} of {result.total}, "
                f"page {named} named (page {page.number} drawn)"
            )
            return named == page.number, seen
    return False, f"{page.phrase!r}: {result.total} hits, not item {page.record_pk}"


if __name__ == "__main__":
    sys.exit(main())
