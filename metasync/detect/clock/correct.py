"""The corrected capture time one clock correction gives a photo: the shift (and drift) added to the camera's
clock, shown at the reference's offset. Used for the pending and applied shifts (shift), and for a corrected
camera's photos when that camera becomes a reference for the others (estimate)."""
from __future__ import annotations

from ...models import Metadata
from ...timeutil import has_known_offset, iso_local, parse_offset, shift_datetime, split_offset, utc_epoch, wall_epoch


def corrected_values(meta: Metadata, shift_s: float, drift_s_per_day: float = 0.0, drift_from: str | None = None,
                     offset: str | None = None) -> dict[str, str]:
    """The corrected datetime_original (and the offset of its zone, where the reference tells it) of a photo
    whose datetime_original is still the camera's; empty when the time cannot be read.

    A camera that writes no offset is corrected on its wall clock (its pairs compared wall clocks): the result is
    the reference's local wall time, and takes the reference's offset. One that writes an offset is corrected in
    UTC and shown at the reference's offset: local wall time with the right offset either way."""
    written = meta.datetime_original
    seconds = shift_s
    if drift_s_per_day and drift_from:
        seconds = round(seconds + drift_s_per_day * (wall_epoch(meta) - wall_epoch(
            Metadata(datetime_original=drift_from))) / 86400.0)
    new = shift_datetime(written, seconds)
    if new is None or offset is None:
        return {"datetime_original": new} if new is not None else {}
    if has_known_offset(meta):
        new = iso_local(utc_epoch(meta.with_values(datetime_original=new)), parse_offset(offset))
        if split_offset(written)[1] is None:
            new = split_offset(new)[0]
    return {"datetime_original": new, "offset_time": offset}
