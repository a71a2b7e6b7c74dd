from django.shortcuts import render

from billing.registry import console_panels_for
from billing.views.access import console_required


@console_required
def today(request):
    """The console home: every registered panel, in order. Feature apps add panels in their ready()."""
    panels = [
        {"panel": panel, "template": panel.template, "context": panel.context(request)}
        for panel in console_panels_for(request)
    ]
    return render(request, "console/today.html", {"panels": panels})
