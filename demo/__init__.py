"""The demo data of ``make run`` and the benchmark rows (``manage.py seed_demo``).

Two sets of data, made two ways on purpose: the base seed (``demo.seed``) goes through
the lifecycle, like real use; the bench rows (``demo.bench``) are bulk-inserted in their
final status. Both draw from the fixed data of ``demo.catalogue``. Like the dashboard,
this app may read every other (DESIGN.md §3); nothing imports it.
"""
