"""URLs of the search app, mounted at the site root by config/urls.py."""

from django.urls import path

from search import views

app_name = "search"

urlpatterns = [
    path("search/", views.public_search, name="public"),
    path("search/suggest/", views.public_suggest, name="public-suggest"),
    path("staff/search/", views.staff_search, name="staff"),
    path("staff/search/suggest/", views.staff_suggest, name="staff-suggest"),
]
