"""The panel's own date formats per locale, over Django's (``FORMAT_MODULE_PATH``).

Pages, e-mails and messages write dates with the locale's format names only
(``DATE_FORMAT``, ``DATETIME_FORMAT``, ``TIME_FORMAT``), never a pattern of their own, so
that one moment reads the same on every page of a language. A locale without a module
here keeps Django's formats.
"""
