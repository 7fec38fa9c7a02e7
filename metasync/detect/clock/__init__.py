"""Camera clock offsets learnt from the user's own photos, and the "time shift" group that corrects them.

A phone sets its clock from the network; a camera keeps whatever it was set to (a forgotten DST change, a zone not
set, drift). When a camera and a phone shoot the same moment, the difference of their clocks is the camera's error.
Two kinds of pairs say "the same moment" (pairs): near-identical pictures (pHash), and, for a camera that geotags
its photos, the moment the phones' GPS track passed where the camera was (references).

One match can be a coincidence (every photo of an event looks alike), so: candidates within a wide search window;
the centre where most camera photos agree to seconds; outliers beyond 3 scaled MADs of the median dropped; at
least MIN_PAIRS kept, and more of them, agreeing more tightly, than chance would line up (chance); pairs that
line up by chance are no more alike than their photos' other candidates, same-moment pairs tend to be the most
alike, so the likeness must not make the agreement less credible. The estimate is the median of the kept pairs,
the spread their median absolute deviation (levels).

A camera's error need not be one number. Left on home time through other zones, its apparent error changes by the
zone difference when the traveller moves on; a reset clock changes too. So the clock differences several photos
agree on are found as levels (a camera has one clock at a time: of two levels whose photos take turns over the same
days, the one chance explains more is a decoy, dropped), each paired photo labelled with its level, and the
photos in time order split into legs where the level changes (legs); each leg is then estimated from its own
pairs (estimate). Within a leg a clock that drifts (seconds a day) gets a Theil-Sen line when a rank test shows the trend (drift). Each corrected
time takes the offset the reference device (a phone) had at that moment, so the camera photo ends in local wall
time with that zone's offset, and a leg's reason splits its shift into the zone difference and the clock's own
error ("camera on home time +02:00, 3 min 40 s fast; here -04:00", explain). Each leg is one reviewable group
(shift). The cameras are solved together: a camera the phones alone do not prove is solved again with the cameras
they proved as references too, at their corrected times (correct), so its pairs with any device count (estimate).
A camera with no leg proven whose pairs still agree on a difference, more than a right clock explains, is in
doubt (levels.doubted_level): planning then places its photos on no track by their time alone, only as guesses.
"""
from __future__ import annotations

from .drift import theil_sen, trend_z
from .estimate import estimate_clock_offsets
from .explain import explanation, zone_and_error
from .legs import switch_points
from .pairs import ClockPair
from .shift import STANDING, shift_values, suggest_time_shifts, time_shift_group, with_pending_shifts

__all__ = [
    "STANDING", "ClockPair", "estimate_clock_offsets", "explanation", "shift_values",
    "suggest_time_shifts", "switch_points", "theil_sen", "time_shift_group", "trend_z", "with_pending_shifts",
    "zone_and_error",
]
