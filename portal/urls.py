"""URLs of the customer request portal (see portal/views.py)."""

from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.start, name="start"),
    path("code/", views.code, name="code"),
    path("order/", views.order, name="order"),
    path("done/<str:public_id>/", views.done, name="done"),
    path("leave/", views.leave, name="leave"),
    # Last: a signed link is any other single segment (it always holds a ':', so never one of the above).
    path("<str:signed>/", views.link, name="link"),
]
