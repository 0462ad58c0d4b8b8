"""URLs of the customer status page (see status_page/views.py)."""

from django.urls import path

from status_page import views as status

app_name = "status"

urlpatterns = [
    # Any string: malformed tokens get the same 404 as unknown ones, from the same view.
    path("<str:token>/", status.refund_status, name="refund"),
]
