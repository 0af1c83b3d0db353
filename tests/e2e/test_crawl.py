"""The crawl: every page a person uses, in a real browser, as each demo persona.

Signs in as every demo user (and as nobody), follows each link of that persona's navigation and
a bounded number of the detail pages and forms behind every list, at a phone (390×844) and a
desk (1366×900), in Chinese and in English, and fails on:

- a response of 400 or more (pages, and the files they link to: CSV, PDF, labels);
- a console error or a Content-Security-Policy violation, or an uncaught page error;
- horizontal overflow: the document wider than the viewport; a page without its icon;
- a button whose label wraps onto a second line;
- visible text in zh-hans that is a message id of the project's catalogue left untranslated
  (also a choice's code such as ``front_desk`` shown raw);
- an accessibility violation of serious or critical impact found by axe-core
  (vendored from npm into static/vendor/axe-core by scripts/vendor_static.sh).

It prints the pages it visited. Bounded: one detail page per kind of link, a few per list.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from accounts.demo import DEMO_USERS
from accounts.models import User
from tests.e2e.conftest import PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1366, "height": 900}
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
DETAILS_PER_PAGE = 2  # new kinds of link followed from each navigation page
# LANTAI_SHOTS=<dir>: also save phone and desk screenshots of the main pages of the keeper,
# the front desk and the archivist (to look at; not needed for the checks).
SHOTS = os.environ.get("LANTAI_SHOTS")
MAIN_PAGES = {
    "keeper": ["/staff/", "/staff/climate/", "/m/checkin/"],
    "frontdesk": ["/staff/borrowing/", "/staff/borrowing/requests/1/"],
    "archivist": ["/staff/catalogue/", "/staff/catalogue/new/item/", "/accounts/audit/"],
    "admin": ["/accounts/audit/"],
}

# Links the crawl does not follow: state changes reached by GET would be a bug of their own, but
# these are the ones that leave the site or end the session.
SKIP = re.compile(r"^/(i18n/|accounts/logout|static/|media/|ws/|jsi18n/|api/v1/|api/schema)")
# pytest-django's live server speaks WSGI only: every websocket of the live pages (notices,
# climate) is refused with a 404 there (tests/storage_env/test_live_*.py cover websockets).
WSGI_WEBSOCKET = re.compile(r"WebSocket connection to '[^']*/ws/[^']*' failed.*\b404\b")
# Pages of Django's own (the admin) are checked for status, console and overflow only.
THIRD_PARTY = re.compile(r"^/(staff/admin/|api/docs/)")
# Extra pages that no navigation link reaches directly (result pages of the main forms).
EXTRA = {
    None: ["/search/?q=%E9%80%9A%E7%9F%A5"],
    "staff": ["/api/docs/"],
}


def catalogue_ids() -> dict[str, str]:
    """Normalised message id → msgid, for every message whose Chinese differs from it."""
    with open(ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po", "rb") as po:
        catalog = read_po(po)
    ids = {}
    for message in catalog:
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        text = message.string[0] if isinstance(message.string, tuple) else message.string
        if not msgid or "%" in msgid or "{" in msgid or text == msgid:
            continue
        if not re.search(r"[A-Za-z]{3}", msgid):
            continue
        ids[normalise(msgid)] = msgid
    return ids


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip(" .:").lower()


# Visible texts of the page, piece by piece (separators and numbering split), skipping code,
# form values and the user's own entries (user content is Chinese in the demo anyway).
TEXTS = """() => {
  const out = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || el.closest('script,style,code,kbd,pre,noscript,textarea,[translate=no]')) continue;
    if (!el.getClientRects().length) continue;
    const text = node.textContent.trim();
    if (text) out.add(text);
  }
  const labelled = '[placeholder],[aria-label],[title],input[type=submit]';
  for (const el of document.querySelectorAll(labelled)) {
    for (const a of ['placeholder', 'aria-label', 'title', 'value']) {
      if (a === 'value' && el.type !== 'submit') continue;
      const v = el.getAttribute(a); if (v) out.add(v.trim());
    }
  }
  for (const o of document.querySelectorAll('option')) out.add(o.textContent.trim());
  return [...out];
}"""

AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.impact} ${v.id}: ${v.help} — ` +
         v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const doc = document.documentElement.scrollWidth;
  if (doc <= width) return null;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1 && e.getClientRects().length
                 && !e.closest('.table-scroll,[data-scroll]'))
    .slice(0, 3).map(e => e.tagName.toLowerCase()
      + (e.className ? '.' + String(e.className).split(' ')[0] : '')
      + ' ' + Math.round(e.getBoundingClientRect().right) + 'px');
  return `${doc}px > ${width}px (${wide.join(', ')})`;
}"""


# Buttons whose label wraps onto a second line (a two-character 检索 stacked in a squeezed
# flex item, say): the label's own text spans more than 1.6 line heights. The text is measured,
# not the button, which a grid or flex row may stretch taller than its label.
WRAPPED_BUTTONS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('button, [role=button]')) {
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    const range = document.createRange();
    range.selectNodeContents(el);
    const rects = [...range.getClientRects()].filter(r => r.width && r.height);
    if (!rects.length) continue;
    const top = Math.min(...rects.map(r => r.top));
    const bottom = Math.max(...rects.map(r => r.bottom));
    const style = getComputedStyle(el);
    const line = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
    if (bottom - top > 1.6 * line) {
      const label = el.textContent.trim().replace(/\\s+/g, ' ');
      out.push(`"${label.slice(0, 30)}" ${Math.round(el.getBoundingClientRect().width)}px wide`);
    }
  }
  return out.slice(0, 3);
}"""


def shape(url: str) -> str:
    """The kind of a link: its path with numbers and codes generalised, and its query keys."""
    parts = urlsplit(url)
    path = re.sub(r"/[^/]*\d[^/]*(?=/|$)", "/<id>", parts.path)
    keys = sorted({k for k, _ in parse_qsl(parts.query) if k not in {"page"}})
    return path + ("?" + "&".join(keys) if keys else "")


class Crawl:
    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.ids = catalogue_ids()
        self.failures: dict[str, set[str]] = defaultdict(set)
        self.visited: list[str] = []
        self.axe_done: set[str] = set()
        self.kinds: set[str] = set()
        self.seen: set[str] = set()  # pages visited by some persona (their start pages aside)
        self.details: set[str] = set()  # pages found behind the navigation
        self.times: list[tuple[float, str]] = []
        self.spent: dict[str, float] = defaultdict(float)  # seconds: loading, axe, the rest
        self.checked: set[tuple[str, str, str]] = set()
        self.sessions: dict[str, str] = {}
        self.shared = None  # the one page of the crawl (see ``as_``)

    def cookies(self, user: User | None, language: str) -> list[dict]:
        cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": self.base_url}]
        if user is not None:
            if user.username not in self.sessions:
                client = Client()
                client.force_login(user)
                self.sessions[user.username] = client.cookies[settings.SESSION_COOKIE_NAME].value
            cookies.append(
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": self.sessions[user.username],
                    "url": self.base_url,
                }
            )
        return cookies

    def context(self, user: User | None, viewport, language: str):
        context = self.browser.new_context(
            viewport=viewport, locale="zh-CN", base_url=self.base_url
        )
        context.add_cookies(self.cookies(user, language))
        return context

    def as_(self, user: User | None, viewport, language: str):
        """The crawl's one page, now as ``user`` at ``viewport`` in ``language``: one browser
        context for the whole crawl, so its HTTP cache serves the style sheets, scripts, icons
        and axe-core after their first load instead of each persona and view fetching them
        again from the live server (one Python process on a shared CPU). Cookies are the only
        state the pages keep per person (the check-in queue in localStorage stays empty: the
        crawl scans nothing)."""
        if self.shared is None:
            context = self.browser.new_context(
                viewport=viewport, locale="zh-CN", base_url=self.base_url
            )
            self.shared = self.new_page(context)
        page = self.shared
        page.context.clear_cookies()
        page.context.add_cookies(self.cookies(user, language))
        page.set_viewport_size(viewport)
        return page

    def close(self) -> None:
        if self.shared is not None:
            self.shared.context.close()
            self.shared = None

    def new_page(self, context):
        """A page whose console errors and uncaught errors are collected into
        ``page.crawl_errors`` (cleared at each visit)."""
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.crawl_errors = []

        def console(message) -> None:
            if message.type == "error" and not WSGI_WEBSOCKET.search(message.text):
                page.crawl_errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda exc: page.crawl_errors.append(f"page error: {exc}"))
        return page

    def fail(self, where: str, problem: str) -> None:
        self.failures[problem].add(where)

    def visit(self, page, path: str, *, who: str, view: str, language: str, axe: bool):
        """Load one page and check it; return the links of its main area (or None)."""
        where = f"{who} {view} {language} {path}"
        began = time.monotonic()
        try:
            return self._visit(page, path, where=where, language=language, axe=axe)
        finally:
            self.times.append((time.monotonic() - began, where))

    def _visit(self, page, path: str, *, where: str, language: str, axe: bool):
        errors: list[str] = page.crawl_errors
        errors.clear()
        began = time.monotonic()
        try:
            response = page.goto(path, wait_until="load")
        except Exception as exc:  # a download (CSV, PDF): check the file's status instead
            if "Download is starting" not in str(exc):
                self.fail(where, f"did not load: {str(exc).splitlines()[0]}")
                return None
            status = page.request.get(path).status
            if status >= 400:
                self.fail(where, f"HTTP {status}")
            self.visited.append(f"{where} (file {status})")
            return None
        self.visited.append(where)
        self.spent["load"] += time.monotonic() - began
        status = response.status if response else 0
        if status >= 400:
            self.fail(where, f"HTTP {status}")
            return None
        if not (response.headers.get("content-type") or "").startswith("text/html"):
            return None
        if not page.evaluate("() => !!document.querySelector('link[rel~=icon]')"):
            self.fail(where, "no icon (favicon) linked")
        overflow = page.evaluate(OVERFLOW)
        if overflow:
            self.fail(where, f"horizontal overflow {overflow}")
        third_party = THIRD_PARTY.match(path)
        if not third_party:
            for button in page.evaluate(WRAPPED_BUTTONS):
                self.fail(where, f"button label wraps: {button}")
        if language == "zh-hans" and not third_party:
            for text in page.evaluate(TEXTS):
                for piece in re.split(r"[·/|,:：，()（）\n]| - ", text):
                    key = normalise(re.sub(r"^\s*\d+\.\s*", "", piece))
                    if key in self.ids:
                        self.fail(where, f"English in a Chinese page: {piece.strip()!r}")
        if axe and not third_party and shape(path) not in self.axe_done:
            self.axe_done.add(shape(path))
            began = time.monotonic()
            page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
            for violation in page.evaluate(AXE_RUN):
                self.fail(where, f"axe {violation}")
            self.spent["axe"] += time.monotonic() - began
        links = page.evaluate(
            """() => [...document.querySelectorAll(
                  'main a[href], .staff-nav a[href], header a[href]')]
                .map(a => a.getAttribute('href'))"""
        )
        # Read last: errors logged while the page ran its scripts during the checks count too.
        for error in errors:
            kind = "CSP violation" if "Content Security Policy" in error else "console error"
            self.fail(where, f"{kind}: {error[:160]}")
        return links

    def links(self, hrefs, seen: set[str]) -> list[str]:
        out = []
        for href in hrefs or []:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                if not href.startswith(self.base_url):
                    continue
                parts = urlsplit(href[len(self.base_url) :])
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if SKIP.match(parts.path) or path in seen:
                continue
            out.append(path)
        return out

    def pages_of(self, user: User | None) -> list[str]:
        """A persona's pages, found and checked on a phone in Chinese: the start page, then each
        navigation page no earlier persona has visited and a few pages of each new kind behind
        it. Returns the pages visited for this persona (the other views check the same)."""
        who = user.username if user else "public"
        page = self.as_(user, PHONE, "zh-hans")
        start = "/staff/" if user is not None and user.is_archive_staff else "/"
        hrefs = self.visit(page, start, who=who, view="phone", language="zh-hans", axe=True)
        navigation = [start, *self.links(hrefs, {start})]
        extra = EXTRA[None] + (EXTRA["staff"] if start == "/staff/" else [])
        navigation += [p for p in extra if p not in navigation]
        self.kinds.update(shape(p) for p in navigation)
        pages = [start]
        for path in navigation[1:]:
            if path in self.seen:
                continue
            self.seen.add(path)
            pages.append(path)
            hrefs = self.visit(page, path, who=who, view="phone", language="zh-hans", axe=True)
            followed = 0
            for link in self.links(hrefs, self.seen):
                if followed >= DETAILS_PER_PAGE:
                    break
                if shape(link) in self.kinds or THIRD_PARTY.match(path):
                    continue
                self.kinds.add(shape(link))
                self.seen.add(link)
                self.details.add(link)
                pages.append(link)
                followed += 1
                self.visit(page, link, who=who, view="phone", language="zh-hans", axe=True)
        return pages

    def check(
        self,
        user: User | None,
        pages: list[str],
        viewport,
        view: str,
        language: str,
        *,
        details: bool = True,
    ):
        """The other views of the persona's pages that no earlier persona had checked
        (``details=False``: the navigation pages only)."""
        who = user.username if user else "public"
        pages = pages if details else [p for p in pages if p not in self.details]
        todo = pages[:1] + [p for p in pages[1:] if (view, language, p) not in self.checked]
        self.checked.update((view, language, p) for p in todo)
        page = self.as_(user, viewport, language)
        for path in todo:
            self.visit(page, path, who=who, view=view, language=language, axe=False)


def seed_demo() -> None:
    """The demo data, loaded from another thread: Playwright keeps an event loop running in
    this one, under which the services' live pushes (async_to_sync) cannot run."""
    previous, settings.DEBUG = settings.DEBUG, True  # seed_demo refuses known passwords otherwise
    try:
        options = {"records": 30, "stdout": io.StringIO()}
        worker = threading.Thread(target=call_command, args=("seed_demo",), kwargs=options)
        worker.start()
        worker.join()
    finally:
        settings.DEBUG = previous


def screenshots(crawl: Crawl, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for username, paths in MAIN_PAGES.items():
        user = User.objects.get(username=username)
        for name, viewport in (("phone", PHONE), ("desk", DESKTOP)):
            context = crawl.context(user, viewport, "zh-hans")
            page = context.new_page()
            for path in paths:
                page.goto(path)
                slug = path.strip("/").replace("/", "-") or "home"
                page.screenshot(path=str(folder / f"{username}-{slug}-{name}.png"), full_page=True)
            context.close()


def test_every_page_of_every_persona(chromium, live_server, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    seed_demo()
    started = time.monotonic()
    crawl = Crawl(chromium, live_server.url)
    # The least privileged first: a page is checked as the first persona whose navigation has it.
    order = ["researcher", "keeper", "frontdesk", "archivist", "approver", "admin"]
    assert sorted(order) == sorted(demo.username for demo in DEMO_USERS)
    users: list[User | None] = [None, *(User.objects.get(username=name) for name in order)]
    for user in users:
        begun = time.monotonic()
        pages = crawl.pages_of(user)
        crawl.check(user, pages, PHONE, "phone", "en")
        crawl.check(user, pages, DESKTOP, "desk", "zh-hans")
        # English at the desk: the navigation pages (the longest labels meet the widest
        # layout there); their details are checked in English on the phone already.
        crawl.check(user, pages, DESKTOP, "desk", "en", details=False)
        print(f"{user}: {len(pages)} pages, {time.monotonic() - begun:.0f}s")
    crawl.close()
    if SHOTS:
        screenshots(crawl, Path(SHOTS))
    spent = ", ".join(f"{k} {v:.0f}s" for k, v in crawl.spent.items())
    loads = len(crawl.visited)
    print(f"\ncrawl: {loads} page loads in {time.monotonic() - started:.0f}s ({spent})")
    for line in crawl.visited:
        print("  visited", line)
    for seconds, where in sorted(crawl.times, reverse=True)[:5]:
        print(f"  slowest {seconds:.1f}s {where}")
    report = []
    for problem, where in sorted(crawl.failures.items()):
        report.append(f"{problem}\n    at {len(where)}: " + "\n       ".join(sorted(where)[:4]))
    assert not report, f"{len(report)} problems:\n" + "\n".join(report)
