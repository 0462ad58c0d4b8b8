"""URLs of the agent console (views in console/views/)."""

from django.urls import path

from console.views import auth, card, create, queue, timeline

app_name = "console"

urlpatterns = [
    path("", queue.queue, name="queue"),
    path("login/", auth.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("refunds/new/", create.create, name="create"),
    path("refunds/<str:public_id>/", card.card, name="card"),
    path("refunds/<str:public_id>/approve/", card.approve, name="approve"),
    path("refunds/<str:public_id>/decline/", card.decline, name="decline"),
    path("refunds/<str:public_id>/edit/", card.edit, name="edit"),
    path("refunds/<str:public_id>/timeline/", timeline.timeline, name="timeline"),
    path("refunds/<str:public_id>/evidence/<int:evidence_id>/", card.evidence_download, name="evidence"),
]
