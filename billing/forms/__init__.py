"""Forms of billing, by audience: ``admin`` for staff pages."""
