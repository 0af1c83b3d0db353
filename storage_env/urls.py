"""URLs of the storage_env app, mounted at the site root by config/urls.py."""

from django.urls import path

from storage_env import notify_views, policy_views, views

app_name = "storage_env"

urlpatterns: list = [
    path("staff/climate/", views.dashboard, name="dashboard"),
    path("staff/climate/rooms/<int:pk>/", views.room_detail, name="room"),
    path("staff/climate/rooms/<int:pk>/export.csv", views.room_export, name="room-export"),
    path(
        "staff/climate/rooms/<int:pk>/alarms.csv",
        views.room_alarms_export,
        name="room-alarms-export",
    ),
    path("staff/climate/rooms/<int:pk>/report.pdf", views.room_report, name="room-report"),
    path(
        "staff/climate/alarms/<int:pk>/<str:action>/",
        views.alarm_action,
        name="alarm-action",
    ),
    path("staff/climate/notifications/", notify_views.notifications, name="notifications"),
    path(
        "staff/climate/notifications/<int:pk>/",
        notify_views.channel_edit,
        name="notification-channel",
    ),
    path(
        "staff/climate/notifications/<int:pk>/<str:action>/",
        notify_views.channel_action,
        name="notification-channel-action",
    ),
]
urlpatterns += policy_views.urlpatterns
