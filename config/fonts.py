"""Transitional alias: the fonts moved to ``core.fonts`` (apps must not import ``config``)."""

from core.fonts import pdf_font

__all__ = ["pdf_font"]
