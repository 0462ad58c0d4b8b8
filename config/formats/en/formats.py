"""Dates and times as Django writes them for staff (the admin's lists and detail pages).

The same shape as the console's own helper (console.presenters.formatting):
day month year, 24-hour time, and the zone named — the zone is the signed-in
person's own (console.middleware.StaffTimeZoneMiddleware).
"""

DATETIME_FORMAT = "j M Y, H:i T"
DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
