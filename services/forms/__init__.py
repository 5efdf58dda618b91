"""Forms of the services app, one module per page: creating and importing (``create``),
editing (``edit``), the details page's actions (``actions``), bulk actions (``bulk``) and
the client area (``client``); ``common`` holds the fields they share.

Forms only validate and collect values: the views hand them to ``services.lifecycle``,
which is what changes a service.
"""
