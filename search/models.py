from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxEntry(models.Model):
    """A searchable record changed: written in the same transaction as the change.

    ``search_sync`` drains entries in batches into the search backend, using ``version`` so an
    older update never overwrites a newer one. One row per change; the drainer collapses
    duplicates of the same record.
    """

    model_label = models.CharField(max_length=50)  # e.g. "repository.item"
    object_id = models.BigIntegerField()
    version = models.PositiveIntegerField(default=0)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("search outbox entry")
        verbose_name_plural = _("search outbox")
        indexes = [models.Index(fields=["model_label", "object_id"], name="outbox_object_idx")]

    def __str__(self) -> str:
        return f"{self.model_label}#{self.object_id} v{self.version}"
