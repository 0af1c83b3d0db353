"""The one text analysis of Lantai's search: used at index time and at query time, on every
backend (SQLite FTS5, PostgreSQL full text, Elasticsearch), so that all of them match alike and
Elasticsearch needs no analysis plugin (it receives the tokens made here).

Normalising (``normalize``; ``normalize_map`` also keeps, for every output character, the span
of the input it came from, so that highlights land on the text as written):

1. Unicode NFKC and lower case: full-width letters, digits and punctuation become half-width.
2. Traditional → simplified Chinese (OpenCC ``t2s``): ``會議紀要`` finds ``会议纪要``.
3. Chinese numerals → Arabic where they form a number (``二〇一九年`` → ``2019年``, ``三号楼`` →
   ``3号楼``, ``第十二卷`` → ``第12卷``), never inside words such as ``统一`` or ``一般``.

Tokens (``Analysis``): a Chinese run gives its overlapping character bigrams (the *stream*, a run
of one character gives that character) and, separately, its single characters (the *unigrams*,
so that a lone character such as ``馆`` finds ``档案馆``); Latin letters and digits give
lower-case words, English plurals reduced (``records`` → ``record``). A reference code also gives
its compact form (``J012-WS·2019-Y-BGS-0001`` → ``j012ws2019ybgs0001``), so a code typed with
any separators, or none, finds it. Titles and creators also give pinyin: each character's
syllable and its initial, as streams whose positions allow phrase queries (``huiyi``, ``hyjy``).

Queries (``parse_query``): quoted phrases must appear as written; ``-word`` and ``-"a phrase"``
exclude (from what the other words find: a query of exclusions only is refused); a year range
(``1990-1995``, ``1990至1995年``) becomes the year filter; a lone stop character (``的``) is
dropped unless nothing else is left; each remaining word must match, a Chinese word when enough
of its bigrams match (``minimum``, stricter for short words: every bigram up to two, all but one
up to four, three in four beyond), Latin words and numbers always.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

import opencc
from pypinyin import Style
from pypinyin import pinyin as pinyin_readings
from pypinyin.converter import DefaultConverter
from pypinyin.seg.simpleseg import seg as pinyin_words

# CJK Unified Ideographs (+ extension A), compatibility ideographs, kana, hangul syllables and 〇.
CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUN_RE = re.compile(rf"[{CJK}]+|[^\W_{CJK}]+", re.UNICODE)
CJK_RE = re.compile(rf"[{CJK}]")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

MAX_TOKENS = 64  # a query never expands beyond this many terms
MAX_WORD = 60  # characters of a Latin/digit word kept (a 2 KB "word" is no search term)
STOP_CHARS = frozenset("的了和与及在是之或等对为于把被也而就都其")

# --- normalising ------------------------------------------------------------------------------
DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
DIGITS |= {"七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
# what may follow a number (a measure word, a date part, a place in a building or a series)
NUMBER_SUFFIX = frozenset("年月日号楼层卷册件期届次章条款页份个室栋座单批宗盒箱排列架岁")
_NUMERAL_RE = re.compile(r"[〇零一二两三四五六七八九十百千万]+")


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _chinese_number(run: str) -> int | None:
    """``一百二十三`` → 123, ``十二`` → 12, ``二〇一九`` → 2019 (digit by digit)."""
    if all(c in DIGITS for c in run):
        return int("".join(str(DIGITS[c]) for c in run)) if len(run) <= 12 else None
    total, section, digit = 0, 0, None
    for char in run:
        if char in DIGITS:
            if digit is not None:  # two digits in a row inside a positional number: not one
                return None
            digit = DIGITS[char]
        elif char == "万":
            section += digit or 0
            total += (section or 1) * 10_000
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * UNITS[char]
            digit = None
    return total + section + (digit or 0)


def _numbers(text: str) -> list[tuple[int, int, str]]:
    """Spans of ``text`` that are Chinese numbers, with their Arabic form."""
    found = []
    for match in _NUMERAL_RE.finditer(text):
        run, start, end = match.group(), match.start(), match.end()
        if run[0] not in DIGITS and run[0] != "十":
            continue  # 万一, 千万: words, not numbers
        after = text[end : end + 1]
        before = text[start - 1 : start]
        digit_only = all(c in DIGITS for c in run)
        year_like = digit_only and (len(run) == 4 or ("〇" in run and len(run) >= 2))
        if not (after in NUMBER_SUFFIX or before == "第" or year_like):
            continue
        value = _chinese_number(run)
        if value is not None:
            found.append((start, end, str(value)))
    return found


class _FoldTable(dict):
    """``str.translate`` table of step 1, character by character (NFKC and lower case of each
    character alone, as written: never composed with its neighbour), filled as characters are
    met and bounded (beyond ``MAX_FOLDED`` a character is folded each time, not kept)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char).lower() if code > 127 else char.lower()
        if len(self) < MAX_FOLDED:
            self[code] = folded
        return folded


MAX_FOLDED = 65_536
_FOLD = _FoldTable()


def _fold(text: str) -> str:
    """Steps 1 and 2: folded and simplified (the same length as the folded text)."""
    folded = text.lower() if text.isascii() else text.translate(_FOLD)
    if _HAN_RE.search(folded):
        simplified = _t2s().convert(folded)
        if len(simplified) != len(folded):  # a phrase changed length: char by char
            simplified = "".join(_t2s().convert(c) or c for c in folded)
        if len(simplified) == len(folded):
            return simplified
    return folded


def normalize_map(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The normalised text and, for each of its characters, the input span it came from."""
    folded_text = _fold(text)
    if len(folded_text) == len(text):  # every character folded to one: spans are trivial
        spans = [(i, i + 1) for i in range(len(text))]
    else:
        spans = [(i, i + 1) for i, char in enumerate(text) for _ in char.translate(_FOLD)]
    if _HAN_RE.search(folded_text):
        numbers = _numbers(folded_text)
        if numbers:
            out_chars: list[str] = []
            out_spans: list[tuple[int, int]] = []
            position = 0
            for start, end, digits in numbers:
                out_chars.extend(folded_text[position:start])
                out_spans.extend(spans[position:start])
                whole = (spans[start][0], spans[end - 1][1])
                out_chars.extend(digits)
                out_spans.extend([whole] * len(digits))
                position = end
            out_chars.extend(folded_text[position:])
            out_spans.extend(spans[position:])
            return "".join(out_chars), out_spans
    return folded_text, spans


def normalize(text: str) -> str:
    """``normalize_map(text)[0]``, without the spans (cached for short texts)."""
    if not text:
        return ""
    return _normalize_cached(text) if len(text) <= CACHED_TEXT else _normalize(text)


def _normalize(text: str) -> str:
    folded = _fold(text)
    numbers = _numbers(folded) if _HAN_RE.search(folded) else None
    if not numbers:
        return folded
    parts, position = [], 0
    for start, end, digits in numbers:
        parts += [folded[position:start], digits]
        position = end
    parts.append(folded[position:])
    return "".join(parts)


# What is cached: field values up to CACHED_TEXT characters (titles, creators, keywords, codes,
# org units repeat heavily in an archive; notes and page text are analysed each time), at most
# CACHE_SIZE of each kind (least recently used dropped), as immutable values.
CACHED_TEXT = 200
CACHE_SIZE = 4096
_normalize_cached = lru_cache(maxsize=CACHE_SIZE)(_normalize)


def stem(word: str) -> str:
    """A light English plural rule (the same at index and query time)."""
    if len(word) < 4 or not word.isascii() or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def is_cjk(term: str) -> bool:
    return bool(CJK_RE.match(term))


# --- tokens -----------------------------------------------------------------------------------
@dataclass
class Token:
    term: str
    start: int  # span in the original text
    end: int
    position: int  # bigram i of a run shares the position of the run's character i


@dataclass
class Analysis:
    bigrams: list[Token]  # the bigram stream: CJK bigrams (a lone character alone), words
    chars: list[Token]  # the character stream: every CJK character, words


def analyze(text: str) -> Analysis:
    """Both token streams of ``text``, with positions and the spans of the text as written."""
    result = Analysis([], [])
    if not text:
        return result
    norm, spans = normalize_map(text)
    position = 0
    for match in _RUN_RE.finditer(norm):
        run, offset = match.group(), match.start()
        if is_cjk(run):
            for i, char in enumerate(run):
                s = spans[offset + i]
                result.chars.append(Token(char, s[0], s[1], position + i))
            if len(run) == 1:
                result.bigrams.append(result.chars[-1])
            for i in range(len(run) - 1):
                start, end = spans[offset + i][0], spans[offset + i + 1][1]
                result.bigrams.append(Token(run[i : i + 2], start, end, position + i))
            position += len(run)
        else:
            word = stem(run[:MAX_WORD])
            token = Token(word, spans[offset][0], spans[offset + len(run) - 1][1], position)
            result.bigrams.append(token)
            result.chars.append(token)
            position += 1
    return result


def stream(text: str) -> list[str]:
    """The bigram stream (CJK bigrams, lone characters, Latin words), in order."""
    return [t.term for t in analyze(text).bigrams]


def chars(text: str) -> list[str]:
    """The character stream (every CJK character, Latin words), in order."""
    return [t.term for t in analyze(text).chars]


@dataclass(frozen=True, slots=True)
class Terms:
    """What an index stores of a text (``analyze`` without spans), immutable so it may be
    cached: both streams' terms, and the terms of the bigram stream then the character stream
    with their positions (``lexemes[i]`` at ``offsets[i]``), repeats of the same pair dropped
    (a lone character or a word is in both). Two flat tuples, not a tuple per pair: fewer
    objects kept in the cache."""

    bigrams: tuple[str, ...]
    chars: tuple[str, ...]
    lexemes: tuple[str, ...]
    offsets: tuple[int, ...]


def terms(text: str) -> Terms:
    """The terms of ``analyze(text)`` (cached for short texts)."""
    if not text:
        return _NO_TERMS
    return _terms_cached(text) if len(text) <= CACHED_TEXT else _terms(text)


def _terms(text: str) -> Terms:
    bigrams: list[tuple[str, int]] = []
    singles: list[tuple[str, int]] = []
    position = 0
    for run in _RUN_RE.findall(normalize(text)):
        if is_cjk(run):
            singles.extend(zip(run, range(position, position + len(run)), strict=True))
            if len(run) == 1:
                bigrams.append((run, position))
            else:
                bigrams.extend((run[i : i + 2], position + i) for i in range(len(run) - 1))
            position += len(run)
        else:
            word = (stem(run[:MAX_WORD]), position)
            bigrams.append(word)
            singles.append(word)
            position += 1
    pairs = dict.fromkeys([*bigrams, *singles])
    return Terms(
        bigrams=tuple(term for term, _ in bigrams),
        chars=tuple(term for term, _ in singles),
        lexemes=tuple(term for term, _ in pairs),
        offsets=tuple(offset for _, offset in pairs),
    )


_NO_TERMS = Terms((), (), (), ())
_terms_cached = lru_cache(maxsize=CACHE_SIZE)(_terms)


def code_key(text: str) -> str:
    """Letters and digits only, normalised: the form a code is compared in."""
    return "".join(ch for ch in normalize(text) if ch.isascii() and ch.isalnum())[:64]


def title_key(text: str) -> str:
    """The whole title as compared for a whole-title match."""
    return "".join(ch for ch in normalize(text) if ch.isalnum())[:500]


# --- pinyin -----------------------------------------------------------------------------------
@dataclass
class Pinyin:
    syllables: list[list[str]]  # per Chinese run, one syllable per character
    initials: list[list[str]]


@dataclass
class PinyinRun:
    """A run of Han characters: each character's span in the text as written, and the run's
    readings (the usual one; with polyphonic characters, once more with their other one)."""

    spans: list[tuple[int, int]]
    readings: list[list[str]]


def pinyin_runs(text: str) -> list[PinyinRun]:
    """The runs of Han characters of the normalised text with their readings (in context:
    银行 → yin hang; 重庆 → chong qing and zhong qing, so both are found)."""
    norm, spans = normalize_map(text or "")
    runs = []
    for match in _HAN_RE.finditer(norm):
        readings = _run_readings(match.group())
        if readings:
            spanned = spans[match.start() : match.end()]
            runs.append(PinyinRun(spanned, [list(reading) for reading in readings]))
    return runs


def pinyin(text: str) -> Pinyin:
    """Syllables and their first letters, per run of Han characters and reading
    (``pinyin_runs``): what the index holds of titles and creators."""
    syllables, initials = pinyin_terms(text)
    return Pinyin([list(r) for r in syllables], [list(r) for r in initials])


Readings = tuple[tuple[str, ...], ...]


def pinyin_terms(text: str) -> tuple[Readings, Readings]:
    """``pinyin(text)`` as immutable values (cached for short texts)."""
    if not text:
        return (), ()
    return _pinyin_cached(text) if len(text) <= CACHED_TEXT else _pinyin_terms(text)


def _pinyin_terms(text: str) -> tuple[Readings, Readings]:
    syllables = [r for run in _HAN_RE.findall(normalize(text)) for r in _run_readings(run)]
    return tuple(syllables), tuple(tuple(s[0] for s in reading) for reading in syllables)


_pinyin_cached = lru_cache(maxsize=CACHE_SIZE)(_pinyin_terms)


@lru_cache(maxsize=CACHE_SIZE)
def _run_readings(run: str) -> Readings:
    """A run's readings (none when a character has no reading): the usual one and, with
    polyphonic characters, once more with their other one."""
    syllables = _lazy_pinyin(run)
    if len(syllables) != len(run):
        return ()
    other = [_other_reading(c, s) for c, s in zip(run, syllables, strict=True)]
    if any(other):
        return syllables, tuple(o or s for o, s in zip(other, syllables, strict=True))
    return (syllables,)


def _lazy_pinyin(run: str) -> tuple[str, ...]:
    """``pypinyin.lazy_pinyin(run, style=Style.NORMAL, errors="ignore")``, word by word as
    pypinyin does it (its segmentation, then its default converter on each word), with each
    word's reading cached: runs seldom repeat, words do."""
    return tuple(syllable for word in pinyin_words(run) for syllable in _word_pinyin(word))


_CONVERTER = DefaultConverter()


@lru_cache(maxsize=4 * CACHE_SIZE)
def _word_pinyin(word: str) -> tuple[str, ...]:
    readings = _CONVERTER.convert(word, Style.NORMAL, False, "ignore", strict=True)
    return tuple(syllable for reading in readings for syllable in reading)


def cache_report() -> list[str]:
    """Hits and size of every cache of the analysis (benchmarks, the reindex command)."""
    caches = {
        "normalize": _normalize_cached,
        "terms": _terms_cached,
        "pinyin": _pinyin_cached,
        "pinyin_run": _run_readings,
        "pinyin_word": _word_pinyin,
    }
    lines = []
    for name, cached in caches.items():
        info = cached.cache_info()
        calls = info.hits + info.misses
        rate = 100 * info.hits / calls if calls else 0.0
        lines.append(f"{name}: {rate:.1f}% hits of {calls}, {info.currsize}/{info.maxsize} kept")
    return lines


@cache
def _other_reading(char: str, usual: str) -> str:
    """A polyphonic character's most common reading other than ``usual`` ("" if none)."""
    readings = pinyin_readings(char, style=Style.NORMAL, heteronym=True)[0]
    return next((r for r in readings if r != usual), "")


_INITIALS = ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw")
_FINALS = [
    "iang",
    "iong",
    "uang",
    "ang",
    "eng",
    "ing",
    "ong",
    "ian",
    "iao",
    "uai",
    "uan",
    "ai",
    "ei",
    "ao",
    "ou",
    "an",
    "en",
    "er",
    "ia",
    "ie",
    "in",
    "iu",
    "ua",
    "uo",
    "ui",
    "un",
    "ue",
    "ve",
    "van",
    "a",
    "o",
    "e",
    "i",
    "u",
    "v",
]


@cache
def _syllables() -> frozenset[str]:
    syllables = {f for f in _FINALS if f[0] in "aeo"} | {"er"}
    for initial in _INITIALS:
        for final in _FINALS:
            syllables.add(initial + final)
    return frozenset(syllables)


MAX_READINGS = 4  # segmentations of a Latin word tried as pinyin (dangan: dang an, dan gan)


def pinyin_splits(word: str) -> list[list[str]]:
    """Every way to read ``word`` as pinyin syllables, fewest syllables first (at most
    ``MAX_READINGS``): ``dangan`` → ``dan gan``, ``dang an``."""
    if not word.isascii() or not word.isalpha() or len(word) > 60:
        return []
    valid = _syllables()
    ways: list[list[list[str]]] = [[] for _ in range(len(word) + 1)]
    ways[0] = [[]]
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            if word[start:end] in valid:
                ways[end].extend([*head, word[start:end]] for head in ways[start])
        ways[end] = sorted(ways[end], key=len)[: 2 * MAX_READINGS]
    return sorted(ways[len(word)], key=len)[:MAX_READINGS]


def split_pinyin(word: str) -> list[str] | None:
    """``huiyijiyao`` → ``hui yi ji yao`` (fewest syllables); None when not pinyin."""
    splits = pinyin_splits(word)
    return splits[0] if splits else None


def split_pinyin_prefix(word: str) -> list[list[str]]:
    """Type-ahead: readings of ``word`` whose last syllable may be unfinished (then ending in
    ``*``): ``huiy`` → ``hui y*``."""
    found = [[*w[:-1], w[-1] + "*"] for w in pinyin_splits(word)]
    valid = _syllables()
    for cut in range(len(word) - 1, 0, -1):
        tail = word[cut:]
        if len(found) >= MAX_READINGS or not any(s.startswith(tail) for s in valid):
            continue
        found += [[*head, tail + "*"] for head in pinyin_splits(word[:cut])]
    return found[:MAX_READINGS]


# --- queries ----------------------------------------------------------------------------------
PINYIN = "^"  # prefix of a syllable term; an initial is ``^^`` + letter


def is_pinyin(term: str) -> bool:
    return term.startswith(PINYIN)


@dataclass(frozen=True)
class Clause:
    """One word of a query. It matches a document holding every ``must`` term and at least
    ``minimum`` of the ``should`` terms; with ``exact``, the terms of ``sequence`` must stand
    together in that order; with ``year``, a record of that year matches as well. ``sequence``
    (the word's stream) also serves the phrase bonus of ranking. ``any_of`` lists alternative
    sequences (pinyin readings): one of them must stand together as a phrase."""

    must: tuple[str, ...] = ()
    should: tuple[str, ...] = ()
    minimum: int = 0
    sequence: tuple[str, ...] = ()
    exact: bool = False
    year: int | None = None
    any_of: tuple[tuple[str, ...], ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        return self.must + self.should


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...] = ()
    excluded: tuple[Clause, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    code: str = ""  # the compact code the whole query would be
    title: str = ""  # the whole query as a title key
    latin: bool = False  # some clause is a Latin word that pinyin could stand for
    phrases: tuple[tuple[str, ...], ...] = field(default=())  # for the phrase bonus

    @property
    def empty(self) -> bool:
        return not self.clauses

    @property
    def excludes_only(self) -> bool:
        """Only exclusions, no word to look for (``-会议``, ``-"会议"``): refused on every backend
        (``search.backends.base.require_words``)."""
        return not self.clauses and bool(self.excluded)

    def pinyin_sequences(self) -> list[tuple[str, ...]]:
        """The pinyin readings the fallback matches (``pinyin_query``): each a sequence of
        syllable (``^hui``) or initial (``^^h``) terms that must stand together."""
        return [alt for clause in self.clauses for alt in clause.any_of]

    def terms(self) -> list[str]:
        """Every positive term (ranking, highlighting), distinct, in order."""
        seen: dict[str, None] = {}
        for clause in self.clauses:
            for term in clause.terms:
                seen.setdefault(term, None)
            for alternative in clause.any_of:
                for term in alternative:
                    seen.setdefault(term, None)
        return list(seen)


def minimum_should_match(n: int) -> int:
    """Of a Chinese word's ``n`` bigrams: all up to two, all but one up to four, then 3/4."""
    if n <= 2:
        return n
    if n <= 4:
        return n - 1
    return math.ceil(0.75 * n)


# A quoted phrase, with the minus that excludes it when one starts the word (``-"工程"``).
_QUOTED_RE = re.compile(r'(?:(?<!\S)(-+))?(?:"([^"]*)"?|“([^”]*)”?|「([^」]*)」?|『([^』]*)』?)')
_YEAR_RANGE_RE = re.compile(
    r"(?<![\w.])([12]\d{3})\s*年?\s*(?:-|–|—|~|～|至|到)\s*([12]\d{3})(?:\s*年)?(?![\w])"
)
_YEAR_WORD_RE = re.compile(r"^([12]\d{3})年$")


def _clause(word: str, *, exact: bool = False) -> Clause | None:
    terms = list(dict.fromkeys(stream(word)))[:MAX_TOKENS]
    if not terms:
        return None
    sequence = tuple(chars(word))[:MAX_TOKENS]
    if exact or len(terms) == 1:
        return Clause(must=tuple(terms), sequence=sequence, exact=exact and len(sequence) > 1)
    must = tuple(t for t in terms if not is_cjk(t) or len(t) == 1)
    should = tuple(t for t in terms if is_cjk(t) and len(t) > 1)
    year = None
    year_word = _YEAR_WORD_RE.match(normalize(word))
    if year_word:
        year = int(year_word.group(1))
    return Clause(
        must=must,
        should=should,
        minimum=minimum_should_match(len(should)),
        sequence=sequence,
        year=year,
    )


def parse_query(text: str) -> ParsedQuery:
    """What a user typed, understood the same way on every backend."""
    text = (text or "").strip()
    if not text:
        return ParsedQuery()
    norm = normalize(text)
    phrases: list[str] = []
    excluded_phrases: list[str] = []

    def keep_phrase(match: re.Match) -> str:
        """Take a quoted phrase out before the words are split (its blanks are part of it),
        with its minus: ``-"工程"`` excludes the phrase, as ``-工程`` excludes the word."""
        inner = next((g for g in match.groups()[1:] if g is not None), "")
        (excluded_phrases if match.group(1) else phrases).append(inner)
        return " "

    rest = _QUOTED_RE.sub(keep_phrase, norm)
    year_from = year_to = None
    ranges = list(_YEAR_RANGE_RE.finditer(rest))
    if ranges:
        low, high = sorted((int(ranges[0].group(1)), int(ranges[0].group(2))))
        year_from, year_to = low, high
        rest = _YEAR_RANGE_RE.sub(" ", rest)
    clauses: list[Clause] = []
    excluded: list[Clause] = []
    stops: list[Clause] = []
    for phrase in phrases:
        clause = _clause(phrase, exact=True)
        if clause:
            clauses.append(clause)
    for phrase in excluded_phrases:
        clause = _clause(phrase, exact=True)
        if clause:
            excluded.append(replace(clause, must=clause.terms))
    for word in rest.split():
        negative = word.startswith("-") and len(word) > 1
        clause = _clause(word[1:] if negative else word)
        if clause is None:
            continue
        if negative:
            excluded.append(replace(clause, must=clause.terms, should=(), minimum=0, year=None))
        elif len(word) == 1 and word in STOP_CHARS:
            stops.append(clause)
        else:
            clauses.append(clause)
    if not clauses:
        clauses = stops  # a query of stop characters only still means something
    clauses = clauses[:MAX_TOKENS]
    compact = code_key(text)
    return ParsedQuery(
        clauses=tuple(clauses),
        excluded=tuple(excluded[:MAX_TOKENS]),
        year_from=year_from,
        year_to=year_to,
        code=compact if any(c.isdigit() for c in compact) and not CJK_RE.search(norm) else "",
        title=title_key(text),
        latin=any(
            len(c.terms) == 1 and c.terms[0].isascii() and c.terms[0].isalpha() and not c.exact
            for c in clauses
        ),
        phrases=tuple(c.sequence for c in clauses if len(c.sequence) > 1),
    )


def is_prefix(term: str) -> bool:
    return term.endswith("*")


def pinyin_query(parsed: ParsedQuery, *, prefix: bool = False) -> ParsedQuery:
    """The fallback: every Latin word that reads as pinyin (syllables or initials) is matched
    against the pinyin of titles and creators instead (``huiyi``, ``hyjy``). With ``prefix``
    (type-ahead) the last syllable may be unfinished."""
    clauses = []
    for clause in parsed.clauses:
        word = clause.terms[0] if len(clause.terms) == 1 else ""
        if not (word and word.isascii() and word.isalpha()) or clause.exact:
            clauses.append(clause)
            continue
        readings = split_pinyin_prefix(word) if prefix else pinyin_splits(word)
        alternatives = [tuple(PINYIN + s for s in reading) for reading in readings]
        if 2 <= len(word) <= 12:
            alternatives.append(tuple(PINYIN * 2 + letter for letter in word))
        # A word that reads as no pinyin (a lone letter, ``v``) keeps its own clause: the
        # fallback then finds what the word itself finds (nothing), never an empty clause
        # (which PostgreSQL's backend wrote as the invalid tsquery "()": a 500 for "x").
        clauses.append(Clause(any_of=tuple(alternatives)) if alternatives else clause)
    return replace(parsed, clauses=tuple(clauses), phrases=())
