"""``/admin/activity/``: the staff activity log, newest first, for administrators."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.views.generic import ListView

from clientxcms.access import StaffRequiredMixin
from clientxcms.pagination import WindowPaginationMixin
from customers.models import StaffActivity, User
from customers.staff_forms import StaffActivityFilterForm


class StaffActivityListView(StaffRequiredMixin, WindowPaginationMixin, ListView):
    """Who did what, when and from where; by staff member, a bounded page at a time.

    Rows come in the order of the ``staffactivity_recent_idx`` index (or the actor one
    when filtered), one query per page whatever its length, and no count.
    """

    permission_required = "customers.view_staffactivity"
    template_name = "customers/admin/activity_list.html"
    context_object_name = "activities"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[StaffActivity]:
        self.filter_form = StaffActivityFilterForm(self.request.GET or None)
        rows = StaffActivity.objects.select_related("actor", "target_type").order_by(
            "-created_at", "-id"
        )
        if self.filter_form.is_valid() and self.filter_form.cleaned_data["actor"]:
            # What they did, and what was tried on their account (failed sign-ins, lockouts).
            actor = self.filter_form.cleaned_data["actor"]
            user_type = ContentType.objects.get_for_model(User)
            rows = rows.filter(Q(actor=actor) | Q(target_type=user_type, target_id=str(actor.pk)))
        return rows

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filter_form=self.filter_form, **kwargs)
