"""Administrators' page of alarm notification channels: list, add, edit, turn off, test; and
the recent deliveries with their state. Thin adapters over storage_env/notify.py."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import requires
from accounts.roles import can_administer
from storage_env import notify
from storage_env.models import NotificationChannel, NotificationDelivery
from storage_env.notify_forms import ChannelForm

admin_required = requires(can_administer)
RECENT_DELIVERIES = 100


def _channel(pk: int) -> NotificationChannel:
    channel = NotificationChannel.objects.filter(pk=pk).first()
    if channel is None:
        raise Http404
    return channel


def _page(
    request: HttpRequest,
    form: ChannelForm,
    editing: NotificationChannel | None = None,
    status: int = 200,
) -> HttpResponse:
    channels = NotificationChannel.objects.prefetch_related("rooms").order_by("name", "id")
    deliveries = NotificationDelivery.objects.select_related("channel", "alarm__room").order_by(
        "-created_at", "-id"
    )[:RECENT_DELIVERIES]
    return render(
        request,
        "storage_env/notifications.html",
        {
            "channels": [(c, notify.redacted_target(c)) for c in channels],
            "deliveries": deliveries,
            "form": form,
            "editing": editing,
            "max_attempts": notify.MAX_ATTEMPTS,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@admin_required
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, ChannelForm())
    form = ChannelForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    channel = notify.create_channel(acting_user=request.user, **form.service_values())
    messages.success(request, _("Channel “%(name)s” added.") % {"name": channel.name})
    return redirect("storage_env:notifications")


@require_http_methods(["GET", "POST"])
@admin_required
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel(pk)
    if request.method != "POST":
        return _page(request, ChannelForm(instance=channel), editing=channel)
    form = ChannelForm(request.POST, instance=_channel(pk))
    if not form.is_valid():
        return _page(request, form, editing=channel, status=400)
    notify.update_channel(channel, acting_user=request.user, **form.service_values())
    messages.success(request, _("Channel “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
    return redirect("storage_env:notifications")


@require_POST
@admin_required
def channel_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    channel = _channel(pk)
    if action in ("enable", "disable"):
        notify.set_channel_enabled(channel, action == "enable", acting_user=request.user)
        if action == "enable":
            messages.success(request, _("Channel “%(name)s” is on.") % {"name": channel.name})
        else:
            messages.success(request, _("Channel “%(name)s” is off.") % {"name": channel.name})
    elif action == "test":
        error = notify.send_test_message(channel, acting_user=request.user)
        if error is None:
            messages.success(
                request, _("Test message sent to “%(name)s”.") % {"name": channel.name}
            )
        else:
            messages.error(
                request,
                _("The test message to “%(name)s” was not taken: %(error)s")
                % {"name": channel.name, "error": error},
            )
    else:
        raise Http404
    return redirect("storage_env:notifications")
