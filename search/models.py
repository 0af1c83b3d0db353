from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxEntry(models.Model):
    """A searchable record changed: written in the same transaction as the change.

    ``search_sync`` drains entries in batches into the search backend, narrowing changes first,
    using ``version`` so an older update never overwrites a newer one. One row per change; the
    drainer collapses duplicates of the same record.
    """

    model_label = models.CharField(max_length=50)  # e.g. "repository.item"
    object_id = models.BigIntegerField()
    version = models.PositiveIntegerField(default=0)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # rewrite the document even at an equal version (its page text changed, not the record)
    force = models.BooleanField(default=False)
    # the change narrows who may see the record (closed, classified, withdrawn, deleted, a page
    # withheld or removed): ``search_sync`` takes these before every other pending row
    narrows = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("search outbox entry")
        verbose_name_plural = _("search outbox")
        indexes = [
            models.Index(fields=["model_label", "object_id"], name="outbox_object_idx"),
            models.Index(fields=["-narrows", "id"], name="outbox_drain_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.model_label}#{self.object_id} v{self.version}"


class SearchDocument(models.Model):
    """The database backend's index: one row per searchable volume or item.

    The same fields as the Elasticsearch document, plus what the full-text index is built from
    (``search.documents.analysed``). On PostgreSQL ``lexemes`` holds the document's ``tsvector``
    (positions, weights, pinyin) and a generated ``search_vector`` adds the scope lexemes under a
    GIN index (migrations 0003, 0004); on SQLite an FTS5 table ``search_document_fts`` (rowid =
    id) of the token streams is kept in step by the backend (``title_tokens``/``body_tokens``
    hold the bigram streams there).
    """

    doc_id = models.CharField(max_length=40, unique=True)  # "item-123"
    kind = models.CharField(max_length=10)
    record_id = models.BigIntegerField()
    reference_code = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=500)
    creator = models.CharField(max_length=200, blank=True)
    keywords = models.CharField(max_length=500, blank=True)
    notes = models.TextField(blank=True)
    fonds_id = models.IntegerField()
    fonds_code = models.CharField(max_length=20, blank=True)
    category_id = models.IntegerField()
    category_code = models.CharField(max_length=20, blank=True)
    category_name = models.CharField(max_length=100, blank=True)
    year = models.SmallIntegerField(null=True, blank=True)
    date_start = models.DateField(null=True, blank=True)
    date_end = models.DateField(null=True, blank=True)
    retention = models.CharField(max_length=4)
    classification = models.PositiveSmallIntegerField(default=0)
    access_status = models.CharField(max_length=12)
    carrier = models.CharField(max_length=12)
    room = models.CharField(max_length=20, blank=True)
    is_public = models.BooleanField(default=False)
    # An item's volume's part of the record door (``search.documents.volume_door``): its 密级 and
    # fonds when the volume is not public; NULL: no volume, or a public one.
    volume_classification = models.SmallIntegerField(null=True, blank=True)
    volume_fonds_id = models.IntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    title_tokens = models.TextField(blank=True)
    body_tokens = models.TextField(blank=True)
    title_key = models.CharField(max_length=500, blank=True, default="")  # whole-title match
    code_key = models.CharField(max_length=64, blank=True, default="", db_index=True)
    lexemes = models.TextField(blank=True, default="")  # PostgreSQL: the tsvector as text

    class Meta:
        db_table = "search_document"
        verbose_name = _("search document")
        verbose_name_plural = _("search documents")
        indexes = [
            models.Index(fields=["kind", "record_id"], name="searchdoc_record_idx"),
            models.Index(fields=["is_public", "date_start"], name="searchdoc_public_idx"),
            models.Index(fields=["fonds_id", "classification"], name="searchdoc_fonds_idx"),
            models.Index(fields=["date_start", "doc_id"], name="searchdoc_date_idx"),
        ]

    def __str__(self) -> str:
        return self.doc_id


class PageText(models.Model):
    """The text of a digitised page, read by the ``ocr_pages`` worker (Tesseract) or corrected
    by staff. Queued (``pending``) when a page is added (``core.hooks.page_added``); searched
    as part of its record's document, released pages only (``search.documents``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be read")
        RUNNING = "running", _("being read")
        DONE = "done", _("read")
        FAILED = "failed", _("unreadable")

    page = models.OneToOneField(
        "repository.DigitalPage", on_delete=models.CASCADE, related_name="ocr"
    )
    text = models.TextField(_("page text"), blank=True)
    confidence = models.FloatField(_("confidence"), null=True, blank=True)  # 0–100, Tesseract's
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("why it could not be read"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("page text")
        verbose_name_plural = _("page texts")
        indexes = [models.Index(fields=["status", "id"], name="pagetext_status_idx")]

    def __str__(self) -> str:
        return f"{self.page_id} {self.status}"
