from django.urls import path

from integrations.slack import views

app_name = "integrations"

urlpatterns = [
    path("slack/interactions", views.interactions, name="slack-interactions"),
]
