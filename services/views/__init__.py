"""Views of the services app, split by audience: ``admin`` for staff, ``client`` for customers."""
