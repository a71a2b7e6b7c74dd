from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from billing.stripe.webhooks import stripe_webhook
from billing.views import auth
from billing.views.auth import rate_limited_login

admin.site.site_header = "Chairside administration"
admin.site.site_title = "Chairside"
admin.site.login = rate_limited_login(admin.site.login)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:today", permanent=False)),
    path("accounts/login/", auth.login, name="login"),
    path("accounts/logout/", auth.logout, name="logout"),
    path("console/calendar/", include("scheduling.urls")),
    path("console/", include("billing.urls")),
    path("console/stripe/", include("billing.stripe.urls")),
    path("stripe/webhook/", stripe_webhook, name="stripe_webhook"),
    path("api/v1/", include("billing.api.urls")),
    path("api/v1/", include("scheduling.api_urls")),
    path("book/", include("scheduling.public_urls")),
    path("admin/", admin.site.urls),
]

handler403 = "billing.views.errors.forbidden"
handler404 = "billing.api.errors.not_found"  # JSON under /api/, the page elsewhere
handler500 = "billing.views.errors.server_error"
