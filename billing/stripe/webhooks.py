"""``POST /stripe/webhook/``: Stripe's deliveries. Verify, store once, answer fast; the worker acts.

- no signature, a forged one, or one older than STRIPE_WEBHOOK_TOLERANCE seconds → 400, nothing stored;
- a body that isn't an event we can read (malformed JSON; ``data`` a list or a string; an id, type or
  amount we can't store: ``shapes.check_event``) → 400 naming the field, nothing stored;
- an event we already have → 200 (Stripe stops retrying), nothing done twice;
- any type, known or not, for any customer, known or not → stored and 200; the inbox sorts it out.
"""

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .errors import InvalidWebhook, StripeNotConfigured
from .inbox import event_receive

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        event, created = event_receive(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except InvalidWebhook as exc:
        log.info("stripe webhook refused: %s", exc)
        return JsonResponse({"error": str(exc)}, status=400)
    except StripeNotConfigured as exc:
        log.error("stripe webhook received but %s", exc.user_message)
        return JsonResponse({"error": "webhooks are not configured here"}, status=503)
    return JsonResponse({"received": True, "duplicate": not created})
