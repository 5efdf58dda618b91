"""English: Django's dates ("July 30, 2028"), with the 24-hour clock staff and customers
already read everywhere else in the panel, rather than Django's "9:12 p.m."."""

TIME_FORMAT = "H:i"
DATETIME_FORMAT = "N j, Y, H:i"
SHORT_DATETIME_FORMAT = "m/d/Y H:i"
