"""Reference working-day calendars: China's statutory calendar and other countries' holidays.

Both implement the ``WorkingCalendar`` port of :mod:`leadtocash.durations` and add company
closures and extra workdays on top of the public schedule. Their data come from optional
packages, imported when a calendar is built (``pip install "leadtocash[calendars]"``):

* ``ChinaStatutoryCalendar``: the State Council's schedule (放假调休) via ``chinesecalendar``
  and loaded ``StatutoryNotice`` files — make-up working Saturdays/Sundays (调休上班)
  included. Years without official data are answered provisionally (deadlines resting on them
  are marked provisional), or raise ``CalendarOutOfRange`` with ``strict=True``.
* ``HolidaysCalendar``: weekends and public holidays of any country/subdivision the
  ``holidays`` package knows.
"""

from leadtocash.calendars.base import CalendarOutOfRange
from leadtocash.calendars.china import ChinaStatutoryCalendar, provisional_china_calendar
from leadtocash.calendars.countries import HolidaysCalendar
from leadtocash.calendars.notices import Festival, NoticeInvalid, StatutoryNotice

__all__ = [
    "CalendarOutOfRange",
    "ChinaStatutoryCalendar",
    "Festival",
    "HolidaysCalendar",
    "NoticeInvalid",
    "StatutoryNotice",
    "provisional_china_calendar",
]
